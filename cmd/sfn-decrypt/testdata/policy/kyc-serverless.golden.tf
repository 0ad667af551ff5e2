# Written by sfn-decrypt policy from the sfnenc configuration.
data "aws_iam_policy_document" "role_notifylambdafunction" {
  statement {
    sid       = "DecryptKey0016d3cca427"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:eu-west-1:444455556666:key/1b4e28ba-2fa1-41d2-883f-0016d3cca427"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["contact"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["kyc"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["prod"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
  statement {
    sid       = "DecryptKey5a3e2d1c0b7a"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:eu-west-1:444455556666:key/9d6c1d0e-6f0a-4c52-9f3b-5a3e2d1c0b7a"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["session"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["kyc"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["prod"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
}

# runs as the service's one role, which every function shares (the Serverless Framework's default), so no function has least privilege; give it its own: role: ScreenRole under functions.screen, with these statements in that role
data "aws_iam_policy_document" "role_screenlambdafunction" {
  statement {
    sid       = "DecryptKey0016d3cca427"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:eu-west-1:444455556666:key/1b4e28ba-2fa1-41d2-883f-0016d3cca427"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["kyc"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["prod"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:bind", "sfnenc:class", "stage"]
    }
  }
  statement {
    sid       = "DecryptKey5a3e2d1c0b7a"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:eu-west-1:444455556666:key/9d6c1d0e-6f0a-4c52-9f3b-5a3e2d1c0b7a"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["session"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:app"
      values   = ["kyc"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:stage"
      values   = ["prod"]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["app", "sfnenc:class", "stage"]
    }
  }
}

data "aws_iam_policy_document" "key_arn_aws_kms_eu_west_1_444455556666_key_1b4e28ba_2fa1_41d2_883f_0016d3cca427" {
  statement {
    sid       = "AccountAdministersKeyAndDelegatesToIAM"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::444455556666:root"]
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
      values   = ["identity", "contact"]
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
      values   = ["kyc"]
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
      values   = ["prod"]
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
      values   = ["app", "sfnenc:bind", "sfnenc:class", "stage"]
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
  }
}

# no principal given uses this key
# a break-glass key: no --break-glass-role was given, so no one may decrypt with it
data "aws_iam_policy_document" "key_arn_aws_kms_eu_west_1_777788889999_key_6fa459ea_ee8a_4ca4_894e_db77e160355e" {
  statement {
    sid       = "AccountAdministersKeyAndDelegatesToIAM"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::444455556666:root"]
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
      values   = ["kyc"]
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
      values   = ["prod"]
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
}

data "aws_iam_policy_document" "key_arn_aws_kms_eu_west_1_444455556666_key_9d6c1d0e_6f0a_4c52_9f3b_5a3e2d1c0b7a" {
  statement {
    sid       = "AccountAdministersKeyAndDelegatesToIAM"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::444455556666:root"]
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
      values   = ["session"]
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
      values   = ["kyc"]
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
      values   = ["prod"]
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
      values   = ["app", "sfnenc:class", "stage"]
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
  }
}
