// Reads simulations (one JSON object a line: {principal, action, resource,
// account, context, identityPolicy, resourcePolicy}) on standard input and
// writes, one JSON object a line, the decision for each: {"result":
// "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied"} or {"error": ...}.
//
// The simulator is @cloud-copilot/iam-simulate (pinned in package-lock.json),
// an offline model of IAM's policy evaluation: not AWS's own evaluator.
//
// Each simulation runs twice. runSimulation validates the request and the
// policies (actions, resource types, condition operators) and reports any
// error. Its decision is not used, because in 0.1.173 it drops every
// kms:EncryptionContext:KEY context key: it matches variable condition keys
// only at a "/" (aws:PrincipalTag/KEY), and this one varies after a ":".
// The decision comes from the same engine without that step (authorize, as
// the package's runUnsafeSimulation calls it), given the context as sent.
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { runSimulation } from '@cloud-copilot/iam-simulate'
import { loadPolicy } from '@cloud-copilot/iam-policy'

const dist = join(dirname(fileURLToPath(import.meta.url)), 'node_modules/@cloud-copilot/iam-simulate/dist/esm')
const { authorize } = await import(join(dist, 'core_engine/CoreSimulatorEngine.js'))
const { AwsRequestImpl } = await import(join(dist, 'request/request.js'))
const { RequestContextImpl } = await import(join(dist, 'requestContext.js'))
const { DiscoveryContextKeyConstraints } = await import(join(dist, 'context_keys/discoveryContextKeyConstraints.js'))

async function simulate(s) {
  const checked = await runSimulation(
    {
      request: {
        principal: s.principal,
        action: s.action,
        resource: { resource: s.resource, accountId: s.account },
        contextVariables: s.context
      },
      identityPolicies: s.identityPolicy ? [{ name: 'role', policy: s.identityPolicy }] : [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: s.resourcePolicy
    },
    {}
  )
  if (checked.resultType === 'error') return { error: checked.errors }
  const request = new AwsRequestImpl(
    s.principal,
    { resource: s.resource, accountId: s.account },
    s.action,
    new RequestContextImpl(s.context)
  )
  const analysis = authorize({
    request,
    sessionPolicy: undefined,
    identityPolicies: s.identityPolicy ? [loadPolicy(s.identityPolicy, { name: 'role' })] : [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: s.resourcePolicy ? loadPolicy(s.resourcePolicy, { name: 'key' }) : undefined,
    permissionBoundaries: undefined,
    vpcEndpointPolicies: undefined,
    simulationParameters: { simulationMode: 'Strict', discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([]) },
    serviceSettings: { s3: {} }
  })
  return { result: analysis.result }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (line.trim() === '') continue
  let out
  try {
    out = await simulate(JSON.parse(line))
  } catch (e) {
    out = { error: String(e) }
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}
