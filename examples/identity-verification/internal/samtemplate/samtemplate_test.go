package samtemplate

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolve(t *testing.T) {
	values := map[string]string{"Stage": "dev", "Key.Arn": "arn:k", "AWS::AccountId": "123"}
	tests := []struct {
		name    string
		v       any
		want    string
		wantErr error
	}{
		{"string", "plain", "plain", nil},
		{"Ref", map[string]any{"Ref": "Stage"}, "dev", nil},
		{"GetAtt", map[string]any{"Fn::GetAtt": []any{"Key", "Arn"}}, "arn:k", nil},
		{"Sub", map[string]any{"Fn::Sub": "a-${Stage}-${Key.Arn}-${AWS::AccountId}"}, "a-dev-arn:k-123", nil},
		{"Sub literal", map[string]any{"Fn::Sub": "${!Stage} ${Stage}"}, "${Stage} dev", nil},
		{"Sub unknown", map[string]any{"Fn::Sub": "${Nope}"}, "", ErrUnresolved},
		{"Ref unknown", map[string]any{"Ref": "Nope"}, "", ErrUnresolved},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(tc.v, values)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Resolve mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := Resolve(map[string]any{"Fn::Join": []any{}}, values); err == nil {
		t.Error("Resolve of Fn::Join: no error")
	}
}

func TestFunctionsMergeGlobals(t *testing.T) {
	tmpl, err := Parse([]byte(`
Globals:
  Function:
    Environment:
      Variables:
        A: global
        B: global
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/f/
      Environment:
        Variables:
          B: own
      Policies:
        - LambdaInvokePolicy:
            FunctionName: x
        - Statement:
            - Sid: S
              Effect: Allow
              Action: kms:Decrypt
              Resource: "*"
`))
	if err != nil {
		t.Fatal(err)
	}
	fns, err := tmpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	want := []Function{{
		LogicalID:  "F",
		CodeURI:    "functions/f/",
		Env:        map[string]any{"A": "global", "B": "own"},
		Statements: []Statement{{Sid: "S", Effect: "Allow", Action: StringList{"kms:Decrypt"}, Resource: "*"}},
		Templates:  []string{"LambdaInvokePolicy"},
	}}
	if diff := cmp.Diff(want, fns); diff != "" {
		t.Errorf("Functions mismatch (-want +got):\n%s", diff)
	}
}

// TestFunctionRuntimeAndLayers: a function's own Runtime and Handler win
// over the Globals', and its Layers come after the Globals' (SAM adds
// lists up).
func TestFunctionRuntimeAndLayers(t *testing.T) {
	tmpl, err := Parse([]byte(`
Globals:
  Function:
    Runtime: provided.al2023
    Handler: bootstrap
    Layers:
      - Ref: KeysetsLayer
Resources:
  Go:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/go/
  Node:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/node/
      Runtime: nodejs20.x
      Handler: index.handler
      Layers:
        - Ref: SfnencLayer
`))
	if err != nil {
		t.Fatal(err)
	}
	fns, err := tmpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		ID, Runtime, Handler string
		Layers               []any
		Go                   bool
	}
	var all []got
	for _, f := range fns {
		all = append(all, got{f.LogicalID, f.Runtime, f.Handler, f.Layers, f.IsGo()})
	}
	want := []got{
		{"Go", "provided.al2023", "bootstrap", []any{map[string]any{"Ref": "KeysetsLayer"}}, true},
		{"Node", "nodejs20.x", "index.handler", []any{map[string]any{"Ref": "KeysetsLayer"}, map[string]any{"Ref": "SfnencLayer"}}, false},
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("functions mismatch (-want +got):\n%s", diff)
	}
}

func TestRoles(t *testing.T) {
	tmpl, err := Parse([]byte(`
Resources:
  R:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Sid: A
            Effect: Allow
            Action: sts:AssumeRole
            Condition:
              Bool:
                aws:MultiFactorAuthPresent: "true"
      Policies:
        - PolicyName: P1
          PolicyDocument:
            Statement:
              - Sid: S1
                Effect: Allow
                Action: [states:DescribeExecution, states:ListExecutions]
                Resource: "*"
        - PolicyName: P2
          PolicyDocument:
            Statement:
              - Sid: S2
                Effect: Allow
                Action: states:GetExecutionHistory
                Resource: "*"
  K:
    Type: AWS::KMS::Key
`))
	if err != nil {
		t.Fatal(err)
	}
	roles, err := tmpl.Roles()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Role{"R": {
		AssumeRole: []Statement{{Sid: "A", Effect: "Allow", Action: StringList{"sts:AssumeRole"},
			Condition: map[string]map[string]any{"Bool": {"aws:MultiFactorAuthPresent": "true"}}}},
		Statements: []Statement{
			{Sid: "S1", Effect: "Allow", Action: StringList{"states:DescribeExecution", "states:ListExecutions"}, Resource: "*"},
			{Sid: "S2", Effect: "Allow", Action: StringList{"states:GetExecutionHistory"}, Resource: "*"},
		},
	}}
	if diff := cmp.Diff(want, roles); diff != "" {
		t.Errorf("Roles mismatch (-want +got):\n%s", diff)
	}
}
