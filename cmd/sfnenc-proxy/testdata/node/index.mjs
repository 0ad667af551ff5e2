// A Node.js handler that knows nothing of sfnenc, for the tests of
// sfnenc-proxy: AWS's Node.js runtime interface client (aws-lambda-ric) runs
// it behind the proxy under the Lambda Runtime Interface Emulator. The
// event's "action" says what it does, as for the Go test handler:
// echo (default), fail (throws a PaymentDeclined whose message holds the
// SSN), crash (exits in the middle of the invocation), context (returns
// what the runtime's context says), big, sleep.
//
// What the handler saw goes to $TESTHANDLER_SEEN_DIR/<request id>.json,
// never to a log.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

class PaymentDeclined extends Error {
  constructor(reason) {
    super('payment declined for ' + reason);
    this.name = 'PaymentDeclined';
  }
}

export const handler = async (event, context) => {
  if (process.env.TESTHANDLER_SEEN_DIR) {
    writeFileSync(join(process.env.TESTHANDLER_SEEN_DIR, context.awsRequestId + '.json'), JSON.stringify(event));
  }
  const ssn = event.customer ? event.customer.ssn : undefined;
  switch (event.action) {
    case 'fail':
      throw new PaymentDeclined(ssn);
    case 'crash':
      process.exit(3);
    case 'context':
      return {
        greeting: 'context',
        context: {
          requestId: context.awsRequestId,
          invokedFunctionArn: context.invokedFunctionArn,
          deadlineMs: Date.now() + context.getRemainingTimeInMillis(),
          clientContext: context.clientContext ?? null,
          identity: context.identity ?? null,
          traceId: process.env._X_AMZN_TRACE_ID ?? null,
          tenantId: context.tenantId ?? null,
        },
      };
    case 'big':
      return { greeting: 'big', blobs: Array.from({ length: event.size }, () => 'x'.repeat(event.blobSize)) };
    case 'sleep':
      await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
      break;
  }
  const name = event.customer ? event.customer.name : '';
  return { greeting: 'hello ' + name, customer: event.customer, card: event.card };
};
