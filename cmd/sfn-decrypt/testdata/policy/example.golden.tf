# Written by sfn-decrypt policy from the sfnenc configuration.
# key policies name this function's role as role/CheckCoApplicantFunctionRole: give the role that RoleName (an explicit name, so that no dependency cycle arises between the key and the role)
data "aws_iam_policy_document" "role_checkcoapplicantfunction" {
  statement {
    sid       = "DecryptIdentityDataKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
  statement {
    sid       = "GenerateDataKeyIdentityDataKey"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
  statement {
    sid       = "EncryptBreakGlassKey"
    effect    = "Allow"
    actions   = ["kms:Encrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/748b3751-3a46-407f-9543-4a38819cbcfd"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
}

# key policies name this function's role as role/ContinueValidationFunctionRole: give the role that RoleName (an explicit name, so that no dependency cycle arises between the key and the role)
data "aws_iam_policy_document" "role_continuevalidationfunction" {
  statement {
    sid       = "DecryptIdentityDataKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "sfnenc:vk", "stage"]
    }
  }
  statement {
    sid       = "DecryptIdentityDataKey2"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
  statement {
    sid       = "GenerateDataKeyIdentityDataKey"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
  statement {
    sid       = "EncryptBreakGlassKey"
    effect    = "Allow"
    actions   = ["kms:Encrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/748b3751-3a46-407f-9543-4a38819cbcfd"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
}

# key policies name this function's role as role/RequestIdentificationFunctionRole: give the role that RoleName (an explicit name, so that no dependency cycle arises between the key and the role)
data "aws_iam_policy_document" "role_requestidentificationfunction" {
  statement {
    sid       = "DecryptIdentityDataKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity", "contact", "session"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
  statement {
    sid       = "GenerateDataKeyIdentityDataKey"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
  statement {
    sid       = "EncryptBreakGlassKey"
    effect    = "Allow"
    actions   = ["kms:Encrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/748b3751-3a46-407f-9543-4a38819cbcfd"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
}

# key policies name this function's role as role/SendRejectionEmailFunctionRole: give the role that RoleName (an explicit name, so that no dependency cycle arises between the key and the role)
data "aws_iam_policy_document" "role_sendrejectionemailfunction" {
  statement {
    sid       = "DecryptIdentityDataKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["contact"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
  statement {
    sid       = "GenerateDataKeyIdentityDataKey"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["contact"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
  statement {
    sid       = "EncryptBreakGlassKey"
    effect    = "Allow"
    actions   = ["kms:Encrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/748b3751-3a46-407f-9543-4a38819cbcfd"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["contact"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
}

# key policies name this function's role as role/SendSmsFunctionRole: give the role that RoleName (an explicit name, so that no dependency cycle arises between the key and the role)
data "aws_iam_policy_document" "role_sendsmsfunction" {
  statement {
    sid       = "DecryptIdentityDataKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["contact", "session"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
  statement {
    sid       = "GenerateDataKeyIdentityDataKey"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["contact"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
  statement {
    sid       = "EncryptBreakGlassKey"
    effect    = "Allow"
    actions   = ["kms:Encrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/748b3751-3a46-407f-9543-4a38819cbcfd"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["contact"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
}

# WaitIdentificationFunction:
# key policies name this function's role as role/WaitIdentificationFunctionRole: give the role that RoleName (an explicit name, so that no dependency cycle arises between the key and the role)
# needs no KMS permission

data "aws_iam_policy_document" "role_operatorrole" {
  statement {
    sid       = "DecryptIdentityDataKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "sfnenc:vk", "stage"]
    }
  }
  statement {
    sid       = "DecryptIdentityDataKey2"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity", "contact", "session"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
}

data "aws_iam_policy_document" "role_backendservicerole" {
  statement {
    sid       = "GenerateDataKeyIdentityDataKey"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "sfnenc:vk", "stage"]
    }
  }
  statement {
    sid       = "GenerateDataKeyIdentityDataKey2"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity", "contact"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
  statement {
    sid       = "EncryptBreakGlassKey"
    effect    = "Allow"
    actions   = ["kms:Encrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/748b3751-3a46-407f-9543-4a38819cbcfd"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "sfnenc:vk", "stage"]
    }
  }
  statement {
    sid       = "EncryptBreakGlassKey2"
    effect    = "Allow"
    actions   = ["kms:Encrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/748b3751-3a46-407f-9543-4a38819cbcfd"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity", "contact"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
}

data "aws_iam_policy_document" "role_keysetadminrole" {
  statement {
    sid       = "DecryptIdentityDataKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["session"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
  statement {
    sid       = "EncryptIdentityDataKey"
    effect    = "Allow"
    actions   = ["kms:Encrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["session"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
}

# the break-glass role: assume it only with MFA, and keep its membership short
data "aws_iam_policy_document" "role_breakglassreaderrole" {
  statement {
    sid       = "DecryptBreakGlassKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/748b3751-3a46-407f-9543-4a38819cbcfd"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "sfnenc:vk", "stage"]
    }
    condition {
      test     = "Bool"
      variable = "aws:MultiFactorAuthPresent"
      values   = ["true"]
    }
  }
  statement {
    sid       = "DecryptBreakGlassKey2"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:eu-west-2:111122223333:key/748b3751-3a46-407f-9543-4a38819cbcfd"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity", "contact"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
    condition {
      test     = "Bool"
      variable = "aws:MultiFactorAuthPresent"
      values   = ["true"]
    }
  }
}

data "aws_iam_policy_document" "key_identitydatakey" {
  statement {
    sid       = "AccountAdministersKeyAndDelegatesToIAM"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::111122223333:root"]
    }
  }
  statement {
    sid       = "DenyUseWithoutClass"
    effect    = "Deny"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Null"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["true"]
    }
  }
  statement {
    sid       = "DenyOtherClasses"
    effect    = "Deny"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity", "contact", "verification", "session"]
    }
  }
  statement {
    sid       = "DenyOtherApp"
    effect    = "Deny"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
  }
  statement {
    sid       = "DenyOtherStage"
    effect    = "Deny"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
  }
  statement {
    sid       = "DenyOtherContextKeys"
    effect    = "Deny"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "ForAnyValue:StringNotEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "sfnenc:vk", "stage"]
    }
  }
  statement {
    sid       = "DenyGrantsAndReEncrypt"
    effect    = "Deny"
    actions   = ["kms:CreateGrant", "kms:ReEncrypt*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
  }
  statement {
    sid       = "DenyDataKeysToOthers"
    effect    = "Deny"
    actions   = ["kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = ["arn:aws:iam::111122223333:role/CheckCoApplicantFunctionRole", "arn:aws:iam::111122223333:role/ContinueValidationFunctionRole", "arn:aws:iam::111122223333:role/RequestIdentificationFunctionRole", "arn:aws:iam::111122223333:role/SendRejectionEmailFunctionRole", "arn:aws:iam::111122223333:role/SendSmsFunctionRole", "arn:aws:iam::111122223333:role/BackendServiceRole"]
    }
  }
  statement {
    sid       = "DenyEncryptToOthers"
    effect    = "Deny"
    actions   = ["kms:Encrypt"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = ["arn:aws:iam::111122223333:role/KeysetAdminRole"]
    }
  }
}

data "aws_iam_policy_document" "key_breakglasskey" {
  statement {
    sid       = "AccountAdministersKeyAndDelegatesToIAM"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::111122223333:root"]
    }
  }
  statement {
    sid       = "DenyUseWithoutClass"
    effect    = "Deny"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Null"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["true"]
    }
  }
  statement {
    sid       = "DenyOtherClasses"
    effect    = "Deny"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity", "contact", "verification"]
    }
  }
  statement {
    sid       = "DenyOtherApp"
    effect    = "Deny"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
  }
  statement {
    sid       = "DenyOtherStage"
    effect    = "Deny"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
  }
  statement {
    sid       = "DenyOtherContextKeys"
    effect    = "Deny"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "ForAnyValue:StringNotEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "sfnenc:vk", "stage"]
    }
  }
  statement {
    sid       = "DenyGrantsAndReEncrypt"
    effect    = "Deny"
    actions   = ["kms:CreateGrant", "kms:ReEncrypt*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
  }
  statement {
    sid       = "DenyDataKeysToOthers"
    effect    = "Deny"
    actions   = ["kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
  }
  statement {
    sid       = "DenyEncryptToOthers"
    effect    = "Deny"
    actions   = ["kms:Encrypt"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = ["arn:aws:iam::111122223333:role/CheckCoApplicantFunctionRole", "arn:aws:iam::111122223333:role/ContinueValidationFunctionRole", "arn:aws:iam::111122223333:role/RequestIdentificationFunctionRole", "arn:aws:iam::111122223333:role/SendRejectionEmailFunctionRole", "arn:aws:iam::111122223333:role/SendSmsFunctionRole", "arn:aws:iam::111122223333:role/BackendServiceRole"]
    }
  }
  statement {
    sid       = "DenyDecryptToOthers"
    effect    = "Deny"
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = ["arn:aws:iam::111122223333:role/BreakGlassReaderRole"]
    }
  }
  statement {
    sid       = "DenyDecryptWithoutMFA"
    effect    = "Deny"
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "BoolIfExists"
      variable = "aws:MultiFactorAuthPresent"
      values   = ["false"]
    }
  }
  statement {
    sid       = "BreakGlassRead"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::111122223333:role/BreakGlassReaderRole"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity", "contact", "verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["identity-verification"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["dev"]
    }
    condition {
      test     = "Bool"
      variable = "aws:MultiFactorAuthPresent"
      values   = ["true"]
    }
  }
}
