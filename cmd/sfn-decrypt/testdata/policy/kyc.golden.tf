# Written by sfn-decrypt policy from the sfnenc configuration.
data "aws_iam_policy_document" "role_intakefunction" {
  statement {
    sid       = "GenerateDataKeyKey0016d3cca427"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
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
    sid       = "GenerateDataKeyKey0016d3cca4272"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
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
    sid       = "EncryptKeydb77e160355e"
    effect    = "Allow"
    actions   = ["kms:Encrypt"]
    resources = ["arn:aws:kms:eu-west-1:777788889999:key/6fa459ea-ee8a-4ca4-894e-db77e160355e"]
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
    sid       = "EncryptKeydb77e160355e2"
    effect    = "Allow"
    actions   = ["kms:Encrypt"]
    resources = ["arn:aws:kms:eu-west-1:777788889999:key/6fa459ea-ee8a-4ca4-894e-db77e160355e"]
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
}

# key policies name this function's role as role/NotifyFunctionRole: give the role that RoleName (an explicit name, so that no dependency cycle arises between the key and the role)
data "aws_iam_policy_document" "role_notifyfunction" {
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

# key policies name this function's role as role/ReviewFunctionRole: give the role that RoleName (an explicit name, so that no dependency cycle arises between the key and the role)
# SFNENC_WRITES is unset: taken to write every class
data "aws_iam_policy_document" "role_reviewfunction" {
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
  statement {
    sid       = "GenerateDataKeyKey0016d3cca427"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
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
    sid       = "GenerateDataKeyKey0016d3cca4272"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
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
    sid       = "EncryptKeydb77e160355e"
    effect    = "Allow"
    actions   = ["kms:Encrypt"]
    resources = ["arn:aws:kms:eu-west-1:777788889999:key/6fa459ea-ee8a-4ca4-894e-db77e160355e"]
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
    sid       = "EncryptKeydb77e160355e2"
    effect    = "Allow"
    actions   = ["kms:Encrypt"]
    resources = ["arn:aws:kms:eu-west-1:777788889999:key/6fa459ea-ee8a-4ca4-894e-db77e160355e"]
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
}

# key policies name this function's role as role/ScreenFunctionRole: give the role that RoleName (an explicit name, so that no dependency cycle arises between the key and the role)
data "aws_iam_policy_document" "role_screenfunction" {
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

data "aws_iam_policy_document" "role_kyc_operator" {
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
    sid       = "DecryptKey0016d3cca4272"
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

data "aws_iam_policy_document" "role_kyc_backend" {
  statement {
    sid       = "GenerateDataKeyKey0016d3cca427"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
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
    sid       = "EncryptKeydb77e160355e"
    effect    = "Allow"
    actions   = ["kms:Encrypt"]
    resources = ["arn:aws:kms:eu-west-1:777788889999:key/6fa459ea-ee8a-4ca4-894e-db77e160355e"]
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
}

data "aws_iam_policy_document" "role_kyc_keys" {
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
  statement {
    sid       = "EncryptKeydb77e160355e"
    effect    = "Allow"
    actions   = ["kms:Encrypt"]
    resources = ["arn:aws:kms:eu-west-1:777788889999:key/6fa459ea-ee8a-4ca4-894e-db77e160355e"]
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
  statement {
    sid       = "EncryptKey5a3e2d1c0b7a"
    effect    = "Allow"
    actions   = ["kms:Encrypt"]
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

# the break-glass role: assume it only with MFA, and keep its membership short
data "aws_iam_policy_document" "role_kyc_break_glass" {
  statement {
    sid       = "DecryptKeydb77e160355e"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:eu-west-1:777788889999:key/6fa459ea-ee8a-4ca4-894e-db77e160355e"]
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
    condition {
      test     = "Bool"
      variable = "aws:MultiFactorAuthPresent"
      values   = ["true"]
    }
  }
  statement {
    sid       = "DecryptKeydb77e160355e2"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:eu-west-1:777788889999:key/6fa459ea-ee8a-4ca4-894e-db77e160355e"]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["contact", "session"]
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
    condition {
      test     = "Bool"
      variable = "aws:MultiFactorAuthPresent"
      values   = ["true"]
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
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = ["arn:aws:iam::444455556666:role/kyc-intake", "arn:aws:iam::444455556666:role/ReviewFunctionRole", "arn:aws:iam::444455556666:role/kyc-backend"]
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
      values   = ["identity", "contact", "session"]
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
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = ["arn:aws:iam::444455556666:role/kyc-intake", "arn:aws:iam::444455556666:role/ReviewFunctionRole", "arn:aws:iam::444455556666:role/kyc-backend", "arn:aws:iam::444455556666:role/kyc-keys"]
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
      values   = ["arn:aws:iam::444455556666:role/kyc-break-glass"]
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
      identifiers = ["arn:aws:iam::444455556666:role/kyc-break-glass"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:sfnenc:class"
      values   = ["identity", "contact", "session"]
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
      test     = "Bool"
      variable = "aws:MultiFactorAuthPresent"
      values   = ["true"]
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
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = ["arn:aws:iam::444455556666:role/kyc-keys"]
    }
  }
}
