#!/usr/bin/env node
// server.mjs is a local AWS Step Functions endpoint for this example: it
// answers the Step Functions API (the AWS JSON 1.0 protocol, so the AWS SDKs
// and CLI work against it with their endpoint set to it) and runs executions
// with the aws-local-stepfunctions interpreter, its Task states routed to
// Lambda functions reached over HTTP (the Lambda Runtime Interface
// Emulator's invoke endpoint). Nothing is ever sent to AWS.
//
// Usage:
//
//   node server.mjs --functions functions.json --out DIR
//     [--address 127.0.0.1:0] [--retry-interval-ms N] [--region R] [--account A]
//
// functions.json maps a Lambda function name (or a full function ARN) to the
// URL that invokes it, for example
//   {"send-sms": "http://127.0.0.1:9001/2015-03-31/functions/function/invocations"}
//
// Operations: CreateStateMachine, StartExecution, DescribeExecution,
// GetExecutionHistory, SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat.
// When an execution ends, DIR/<execution name>.history.json and
// DIR/<execution name>.execution.json hold its history and description as
// `aws stepfunctions get-execution-history` and `describe-execution` print
// them (--output json).
//
// Task resources understood:
//   arn:aws:lambda:REGION:ACCOUNT:function:NAME       LambdaFunction* events
//   arn:aws:states:::lambda:invoke                     Task* events; FunctionName and Payload from Parameters
//   arn:aws:states:::lambda:invoke.waitForTaskToken    as above, then waits for SendTaskSuccess,
//                                                      SendTaskFailure or SendTaskHeartbeat
// Any other resource, and any function missing from functions.json, is
// refused by CreateStateMachine.
//
// The server prints "server.mjs: listening on HOST:PORT" on stderr once it
// accepts requests, and one line when each execution starts and ends. It
// never prints execution data. It stops on SIGTERM or SIGINT, aborting
// running executions.

import { writeFile, rename } from 'node:fs/promises';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

// aws-local-stepfunctions 3.0.0 calls Promise.withResolvers (Node 22); Node 20
// lacks it, so it is defined before the package is loaded.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

// Every Task state gets a local handler below. Should one be missed, the
// interpreter would call Lambda through the AWS SDK: point that at a closed
// loopback port so it can only fail.
process.env.AWS_ENDPOINT_URL_LAMBDA = 'http://127.0.0.1:9';

const { StateMachine } = await import('aws-local-stepfunctions');

// A Map or Parallel state forwards the events of each iteration or branch to
// the root event log asynchronously, and may finish before the last of them
// (MapIterationSucceeded, say) is forwarded, so it would land after the Map
// state's own exit. Make each run's result wait until its event log has been
// read to the end, so nested events are forwarded before the parent goes on.
const originalRun = StateMachine.prototype.run;
StateMachine.prototype.run = function runDrained(input, options) {
  const execution = originalRun.call(this, input, options);
  const drained = Promise.withResolvers();
  const inner = execution.eventLogs;
  const eventLogs = (async function* forward() {
    try {
      yield* inner;
    } finally {
      drained.resolve();
    }
  })();
  const result = execution.result.then(
    (value) => drained.promise.then(() => value),
    (err) => drained.promise.then(() => Promise.reject(err)),
  );
  return { ...execution, eventLogs, result };
};

const TASK_TOKEN_PLACEHOLDER = 'LOCAL-TASK-TOKEN-PLACEHOLDER';
const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const LAMBDA_INVOKE_WAIT = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const LAMBDA_FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:([^:]+)(:[^:]+)?$/;
const NAME = /^[A-Za-z0-9_-]{1,80}$/;

// ApiError is an error answered to the client in the Step Functions JSON
// protocol: HTTP 400 and {"__type": code, "message": message}.
class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// HarnessError is a fault of the harness or its configuration (not of the
// workflow): it fails the execution with the error name below.
class HarnessError extends Error {}
const HARNESS_ERROR = 'Harness.Error';

function log(msg) {
  process.stderr.write(`server.mjs: ${msg}\n`);
}

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      functions: { type: 'string' },
      out: { type: 'string' },
      address: { type: 'string', default: '127.0.0.1:0' },
      'retry-interval-ms': { type: 'string' },
      region: { type: 'string', default: 'eu-west-2' },
      account: { type: 'string', default: '111122223333' },
    },
    strict: true,
  });
  const usage = (msg) => {
    throw new Error(`${msg}\nusage: node server.mjs --functions FILE --out DIR [--address HOST:PORT] [--retry-interval-ms N] [--region R] [--account A]`);
  };
  if (!values.functions) usage('missing --functions');
  if (!values.out) usage('missing --out');
  let retryIntervalMs;
  if (values['retry-interval-ms'] !== undefined) {
    retryIntervalMs = Number(values['retry-interval-ms']);
    if (!Number.isInteger(retryIntervalMs) || retryIntervalMs < 0) usage('--retry-interval-ms must be a non-negative integer');
  }
  const i = values.address.lastIndexOf(':');
  const port = Number(values.address.slice(i + 1));
  if (i < 0 || !Number.isInteger(port)) usage(`--address ${values.address} is not HOST:PORT`);
  return {
    functionsFile: values.functions,
    outDir: values.out,
    host: values.address.slice(0, i).replace(/^\[(.*)\]$/, '$1'),
    port,
    retryIntervalMs,
    region: values.region,
    account: values.account,
  };
}

// collectStates returns every state of the definition, nested Map and
// Parallel states included, as [name, state] pairs. Step Functions requires
// state names to be unique across the whole machine, and the interpreter's
// overrides are keyed by name alone, so a repeated name is refused.
function collectStates(definition) {
  const states = new Map();
  const where = new Map();
  const walk = (machine, path) => {
    if (!machine || typeof machine.States !== 'object') throw new ApiError('InvalidDefinition', `${path}: no States`);
    for (const [name, state] of Object.entries(machine.States)) {
      if (states.has(name)) throw new ApiError('InvalidDefinition', `state name ${JSON.stringify(name)} is used twice (${where.get(name)} and ${path})`);
      states.set(name, state);
      where.set(name, path);
      if (state.Type === 'Map') walk(state.ItemProcessor ?? state.Iterator, `${path}/${name}`);
      if (state.Type === 'Parallel') (state.Branches ?? []).forEach((b, i) => walk(b, `${path}/${name}[${i}]`));
    }
  };
  walk(definition, '$');
  return [...states];
}

// functionName returns the function name of a Lambda FunctionName value: a
// name, a name with a qualifier, a full or a partial function ARN.
function functionName(ref) {
  const m = /(?:^|:)function:([^:]+)/.exec(ref);
  if (m) return m[1];
  return ref.split(':')[0];
}

function lookupFunction(functions, ref) {
  return functions[ref] ?? functions[functionName(ref)];
}

// isoTime formats a time as the AWS CLI (v2) prints timestamps.
function isoTime(ms) {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00');
}

// epoch formats a time as the JSON protocol sends timestamps.
function epoch(ms) {
  return ms / 1000;
}

function replacePlaceholder(value, token) {
  if (typeof value === 'string') return value.replaceAll(TASK_TOKEN_PLACEHOLDER, token);
  if (Array.isArray(value)) return value.map((v) => replacePlaceholder(v, token));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replacePlaceholder(v, token)]));
  }
  return value;
}

// Lambda reports a function error (in the emulator: HTTP 200 with this body)
// as an object of errorType, errorMessage and possibly stackTrace.
function functionError(body) {
  if (!body || typeof body !== 'object' || Array.isArray(body) || typeof body.errorType !== 'string') return undefined;
  const allowed = new Set(['errorType', 'errorMessage', 'stackTrace']);
  return Object.keys(body).every((k) => allowed.has(k)) ? body : undefined;
}

// A task failure as the interpreter sees it: Retry and Catch match on name,
// and a Catch hands {Error: name, Cause: message} on.
function taskError(name, cause) {
  const err = new Error(cause);
  err.name = name;
  return err;
}

// Shared by all executions: the emulator takes one invocation at a time, so
// invocations of one URL are queued across executions; task tokens are
// unique across executions.
const invokeLocks = new Map(); // invoke URL -> promise chain
const tokens = new Map(); // task token -> {resolve, settled, done}
let tokenCount = 0;

// Execution runs one execution and records its history.
class Execution {
  constructor(server, machine, name, input) {
    this.server = server;
    this.opts = server.opts;
    this.machine = machine;
    this.name = name;
    this.input = input;
    this.arn = `arn:aws:states:${this.opts.region}:${this.opts.account}:execution:${machine.name}:${name}`;
    this.status = 'RUNNING';
    this.started = Date.now();
    this.stopped = undefined;
    this.output = undefined;
    this.error = undefined;
    this.cause = undefined;
    this.events = []; // history events in order
    this.openAttempts = new Map(); // state name -> Set of attempts still waiting for a result
    this.mapStarts = new Map(); // Map state name -> its MapStateStarted event
    this.mapFailed = new Set(); // Map and Parallel state names whose current entry failed
    this.fatal = undefined;
    this.running = undefined;
    this.ended = false;
    this.done = false;
  }

  add(type, details, timestamp = Date.now()) {
    // A task still running when the execution ends (an aborted Map
    // iteration, say) records nothing after the end.
    if (this.ended) return {};
    const event = { timestamp, type };
    if (details) Object.assign(event, details);
    this.events.push(event);
    return event;
  }

  fail(err) {
    this.fatal ??= err;
    this.running?.abort();
    return err;
  }

  functionURL(ref, where) {
    const url = lookupFunction(this.server.functions, ref);
    if (!url) throw this.fail(new HarnessError(`${where}: function ${JSON.stringify(ref)} is not in the functions file`));
    return url;
  }

  // invoke calls a function and calls onStart once the call is sent.
  async invoke(url, payload, onStart) {
    const prev = invokeLocks.get(url) ?? Promise.resolve();
    let release;
    const mine = new Promise((r) => (release = r));
    invokeLocks.set(url, prev.then(() => mine));
    await prev;
    try {
      onStart();
      let resp;
      try {
        resp = await fetch(url, { method: 'POST', body: JSON.stringify(payload), headers: { 'content-type': 'application/json' } });
      } catch (err) {
        throw this.fail(new HarnessError(`invoke ${url}: ${err.cause?.message ?? err.message}`));
      }
      const text = await resp.text();
      if (!resp.ok) throw this.fail(new HarnessError(`invoke ${url}: HTTP ${resp.status}`));
      let body;
      try {
        body = text === '' ? null : JSON.parse(text);
      } catch {
        throw this.fail(new HarnessError(`invoke ${url}: response is not JSON`));
      }
      return { text, body, error: functionError(body), requestId: randomUUID() };
    } finally {
      release();
    }
  }

  // taskHandler returns the interpreter override for one Task state.
  taskHandler(name, state) {
    const resource = state.Resource;
    const timeout = state.TimeoutSeconds !== undefined ? { timeoutInSeconds: state.TimeoutSeconds } : {};
    if (LAMBDA_FUNCTION_ARN.exec(resource)) {
      return async (input) => {
        await settle();
        const url = this.functionURL(resource, name);
        const attempt = this.open(name, 'LambdaFunction', {});
        this.add('LambdaFunctionScheduled', {
          lambdaFunctionScheduledEventDetails: { resource, input: JSON.stringify(input), inputDetails: { truncated: false }, ...timeout },
        });
        const res = await this.invoke(url, input, () => this.add('LambdaFunctionStarted'));
        if (!this.close(name, attempt)) return res.body;
        if (res.error) {
          this.add('LambdaFunctionFailed', { lambdaFunctionFailedEventDetails: { error: res.error.errorType, cause: res.text } });
          throw taskError(res.error.errorType, res.text);
        }
        this.add('LambdaFunctionSucceeded', { lambdaFunctionSucceededEventDetails: { output: res.text, outputDetails: { truncated: false } } });
        return res.body;
      };
    }
    const wait = resource === LAMBDA_INVOKE_WAIT;
    const ids = { resourceType: 'lambda', resource: wait ? 'invoke.waitForTaskToken' : 'invoke' };
    return async (input) => {
      await settle();
      let token;
      if (wait) {
        token = `local-${++tokenCount}-${randomUUID()}`;
        input = replacePlaceholder(input, token);
      }
      const attempt = this.open(name, 'Task', ids);
      this.add('TaskScheduled', {
        taskScheduledEventDetails: { ...ids, region: this.opts.region, parameters: JSON.stringify(input), ...timeout },
      });
      if (typeof input?.FunctionName !== 'string') {
        throw this.fail(new HarnessError(`${name}: Parameters give no FunctionName`));
      }
      const url = this.functionURL(input.FunctionName, name);
      let callback;
      if (wait) {
        callback = Promise.withResolvers();
        tokens.set(token, { resolve: callback.resolve, settled: false, execution: this });
      }
      const res = await this.invoke(url, input.Payload ?? {}, () => this.add('TaskStarted', { taskStartedEventDetails: { ...ids } }));
      if (res.error) {
        if (this.close(name, attempt)) {
          this.add('TaskFailed', { taskFailedEventDetails: { ...ids, error: res.error.errorType, cause: res.text } });
        }
        if (token) tokens.get(token).settled = true;
        throw taskError(res.error.errorType, res.text);
      }
      const invokeResult = {
        ExecutedVersion: '$LATEST',
        Payload: res.body,
        SdkHttpMetadata: { HttpHeaders: { 'Content-Type': 'application/json', 'X-Amz-Executed-Version': '$LATEST', 'x-amzn-RequestId': res.requestId }, HttpStatusCode: 200 },
        SdkResponseMetadata: { RequestId: res.requestId },
        StatusCode: 200,
      };
      if (!wait) {
        if (this.close(name, attempt)) {
          this.add('TaskSucceeded', { taskSucceededEventDetails: { ...ids, output: JSON.stringify(invokeResult), outputDetails: { truncated: false } } });
        }
        return invokeResult;
      }
      if (attempt.closed) return invokeResult; // timed out already
      this.add('TaskSubmitted', { taskSubmittedEventDetails: { ...ids, output: JSON.stringify(invokeResult), outputDetails: { truncated: false } } });
      let outcome;
      try {
        outcome = await callback.promise;
      } finally {
        tokens.get(token).settled = true;
      }
      if (outcome.failure) {
        const { error = '', cause = '' } = outcome.failure;
        if (this.close(name, attempt)) this.add('TaskFailed', { taskFailedEventDetails: { ...ids, error, cause } });
        throw taskError(error, cause);
      }
      if (this.close(name, attempt)) {
        this.add('TaskSucceeded', { taskSucceededEventDetails: { ...ids, output: outcome.output, outputDetails: { truncated: false } } });
      }
      return JSON.parse(outcome.output);
    };
  }

  open(name, kind, ids) {
    const attempt = { closed: false, kind, ids };
    if (!this.openAttempts.has(name)) this.openAttempts.set(name, new Set());
    this.openAttempts.get(name).add(attempt);
    return attempt;
  }

  // close marks an attempt finished and reports whether it was still open
  // (an attempt that timed out in the interpreter is closed already).
  close(name, attempt) {
    if (attempt.closed) return false;
    attempt.closed = true;
    this.openAttempts.get(name)?.delete(attempt);
    return true;
  }

  onLogEvent(ev) {
    this.onEvent(ev);
    if (['ExecutionSucceeded', 'ExecutionFailed', 'ExecutionTimeout', 'ExecutionAborted'].includes(ev.type)) this.ended = true;
  }

  // onEvent turns one event of the interpreter's log into history events.
  onEvent(ev) {
    switch (ev.type) {
      case 'ExecutionStarted':
        this.add('ExecutionStarted', {
          executionStartedEventDetails: { input: JSON.stringify(ev.input), inputDetails: { truncated: false }, roleArn: this.machine.roleArn },
        }, ev.timestamp);
        break;
      case 'StateEntered': {
        const s = ev.state;
        this.add(`${s.type}StateEntered`, {
          stateEnteredEventDetails: { name: s.name, input: JSON.stringify(s.input), inputDetails: { truncated: false } },
        }, ev.timestamp);
        if (s.type === 'Map') {
          this.mapFailed.delete(s.name);
          this.mapStarts.set(s.name, this.add('MapStateStarted', { mapStateStartedEventDetails: { length: 0 } }, ev.timestamp));
        }
        if (s.type === 'Parallel') {
          this.mapFailed.delete(s.name);
          this.add('ParallelStateStarted', undefined, ev.timestamp);
        }
        break;
      }
      case 'StateExited': {
        const s = ev.state;
        if ((s.type === 'Map' || s.type === 'Parallel') && !this.mapFailed.has(s.name)) {
          this.add(`${s.type}StateSucceeded`, undefined, ev.timestamp);
        }
        this.add(`${s.type}StateExited`, {
          stateExitedEventDetails: { name: s.name, output: JSON.stringify(s.output), outputDetails: { truncated: false } },
        }, ev.timestamp);
        break;
      }
      case 'StateFailed': {
        const s = ev.state;
        if (s.type === 'Map' || s.type === 'Parallel') {
          this.mapFailed.add(s.name);
          this.add(`${s.type}StateFailed`, undefined, ev.timestamp);
        } else if (s.type === 'Task' && ev.Error === 'States.Timeout') {
          const open = this.openAttempts.get(s.name);
          const attempt = open && [...open][0];
          if (attempt) {
            this.close(s.name, attempt);
            const details = { error: ev.Error, cause: typeof ev.Cause === 'string' ? ev.Cause : '' };
            if (attempt.kind === 'LambdaFunction') {
              this.add('LambdaFunctionTimedOut', { lambdaFunctionTimedOutEventDetails: details }, ev.timestamp);
            } else {
              this.add('TaskTimedOut', { taskTimedOutEventDetails: { ...attempt.ids, ...details } }, ev.timestamp);
            }
          }
        }
        break;
      }
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed': {
        const key = ev.type[0].toLowerCase() + ev.type.slice(1) + 'EventDetails';
        this.add(ev.type, { [key]: { name: ev.parentState.name, index: ev.index } }, ev.timestamp);
        if (ev.type === 'MapIterationStarted') {
          const started = this.mapStarts.get(ev.parentState.name);
          if (started) started.mapStateStartedEventDetails.length++;
        }
        break;
      }
      case 'ExecutionSucceeded':
        this.add('ExecutionSucceeded', {
          executionSucceededEventDetails: { output: JSON.stringify(ev.output), outputDetails: { truncated: false } },
        }, ev.timestamp);
        break;
      case 'ExecutionFailed':
        this.add('ExecutionFailed', {
          executionFailedEventDetails: { error: ev.Error, cause: typeof ev.Cause === 'string' ? ev.Cause : JSON.stringify(ev.Cause) },
        }, ev.timestamp);
        break;
      case 'ExecutionTimeout':
        this.add('ExecutionTimedOut', { executionTimedOutEventDetails: {} }, ev.timestamp);
        break;
      case 'ExecutionAborted':
        this.add('ExecutionAborted', { executionAbortedEventDetails: {} }, ev.timestamp);
        break;
      default:
        // StateRetried, StateCaught and ParallelBranch* have no event of
        // their own in Step Functions history.
        break;
    }
  }

  // run runs the execution to its end; it never throws.
  async run() {
    const overrides = { taskResourceLocalHandlers: {} };
    const withRetry = [];
    for (const [name, state] of this.machine.states) {
      if (state.Type === 'Task') overrides.taskResourceLocalHandlers[name] = this.taskHandler(name, state);
      if (state.Retry) withRetry.push(name);
    }
    if (this.opts.retryIntervalMs !== undefined) {
      overrides.retryIntervalOverrides = Object.fromEntries(withRetry.map((n) => [n, this.opts.retryIntervalMs]));
    }
    let output;
    let status = 'SUCCEEDED';
    try {
      this.running = this.machine.interpreter.run(this.input, {
        overrides,
        context: { Task: { Token: TASK_TOKEN_PLACEHOLDER } },
      });
      const consume = (async () => {
        for await (const ev of this.running.eventLogs) this.onLogEvent(ev);
      })();
      try {
        output = await this.running.result;
      } catch (err) {
        status = err.name === 'ExecutionTimeoutError' ? 'TIMED_OUT' : err.name === 'ExecutionAbortedError' ? 'ABORTED' : 'FAILED';
      }
      await consume;
    } catch (err) {
      this.fail(err instanceof HarnessError ? err : new HarnessError(err.message));
    }
    for (const entry of tokens.values()) {
      if (entry.execution === this) entry.settled = true;
    }
    this.stopped = Date.now();
    if (this.fatal) {
      // A fault of the harness: the history is cut short where it happened.
      this.ended = false;
      this.add('ExecutionFailed', { executionFailedEventDetails: { error: HARNESS_ERROR, cause: this.fatal.message } });
      this.ended = true;
      status = 'FAILED';
      log(`execution ${this.name}: harness error: ${this.fatal.message}`);
    }
    this.status = status;
    if (status === 'SUCCEEDED') this.output = JSON.stringify(output);
    const last = this.events[this.events.length - 1];
    if (last?.type === 'ExecutionFailed') {
      this.error = last.executionFailedEventDetails.error;
      this.cause = last.executionFailedEventDetails.cause;
    }
    await this.save();
    this.done = true;
    log(`execution ${this.name}: ${status}`);
  }

  // describe returns the execution as DescribeExecution answers it; cli
  // gives the timestamps as the AWS CLI prints them.
  // Until the execution's files are saved, it is reported as running.
  describe(cli) {
    const time = cli ? isoTime : epoch;
    const d = {
      executionArn: this.arn,
      stateMachineArn: this.machine.arn,
      name: this.name,
      status: cli || this.done ? this.status : 'RUNNING',
      startDate: time(this.started),
      input: JSON.stringify(this.input),
      inputDetails: { included: true },
    };
    if (d.status === 'RUNNING') return d;
    if (this.stopped !== undefined) d.stopDate = time(this.stopped);
    if (this.output !== undefined) {
      d.output = this.output;
      d.outputDetails = { included: true };
    }
    if (this.error !== undefined) d.error = this.error;
    if (this.cause !== undefined) d.cause = this.cause;
    return d;
  }

  // history returns the events as GetExecutionHistory answers them.
  history(cli) {
    const time = cli ? isoTime : epoch;
    return this.events.map((ev, i) => {
      const { timestamp, type, ...details } = ev;
      return { timestamp: time(timestamp), type, id: i + 1, previousEventId: i, ...details };
    });
  }

  async save() {
    const write = async (file, value) => {
      const path = join(this.opts.outDir, file);
      await writeFile(`${path}.tmp`, JSON.stringify(value, null, 2) + '\n');
      await rename(`${path}.tmp`, path);
    };
    try {
      await write(`${this.name}.history.json`, { events: this.history(true) });
      await write(`${this.name}.execution.json`, this.describe(true));
    } catch (err) {
      log(`execution ${this.name}: cannot save: ${err.message}`);
    }
  }
}

// settle lets the interpreter's event log catch up, so that the events of a
// task land after the StateEntered that led to it: the interpreter calls a
// handler in the same tick in which it queues that event.
function settle() {
  return new Promise((resolve) => setImmediate(resolve));
}

class Server {
  constructor(opts, functions) {
    this.opts = opts;
    this.functions = functions;
    this.machines = new Map(); // ARN -> machine
    this.executions = new Map(); // ARN -> Execution
  }

  arnPrefix(kind) {
    return `arn:aws:states:${this.opts.region}:${this.opts.account}:${kind}:`;
  }

  CreateStateMachine(args) {
    const { name, definition, roleArn } = args;
    if (typeof name !== 'string' || !NAME.test(name)) throw new ApiError('InvalidName', 'name is missing or not valid');
    if (typeof definition !== 'string') throw new ApiError('InvalidDefinition', 'definition is missing');
    let parsed;
    try {
      parsed = JSON.parse(definition);
    } catch {
      throw new ApiError('InvalidDefinition', 'definition is not JSON');
    }
    const states = collectStates(parsed);
    for (const [stateName, state] of states) {
      if (state.Type !== 'Task') continue;
      const r = state.Resource;
      if (LAMBDA_FUNCTION_ARN.test(r)) {
        if (!lookupFunction(this.functions, r)) throw new ApiError('InvalidDefinition', `${stateName}: function ${r} is not in the functions file`);
      } else if (r === LAMBDA_INVOKE || r === LAMBDA_INVOKE_WAIT) {
        const fn = state.Parameters?.FunctionName;
        if (typeof fn === 'string' && !lookupFunction(this.functions, fn)) {
          throw new ApiError('InvalidDefinition', `${stateName}: function ${fn} is not in the functions file`);
        }
      } else {
        throw new ApiError('InvalidDefinition', `${stateName}: resource ${JSON.stringify(r)} is not supported`);
      }
    }
    let interpreter;
    try {
      interpreter = new StateMachine(parsed, {
        awsConfig: { region: this.opts.region, credentials: { accessKeys: { accessKeyId: 'local', secretAccessKey: 'local' } } },
      });
    } catch (err) {
      throw new ApiError('InvalidDefinition', err.message);
    }
    const arn = this.arnPrefix('stateMachine') + name;
    if (this.machines.has(arn)) throw new ApiError('StateMachineAlreadyExists', `state machine ${arn} exists`);
    const created = Date.now();
    this.machines.set(arn, {
      arn, name, states, interpreter, created,
      roleArn: roleArn ?? `arn:aws:iam::${this.opts.account}:role/${name}-role`,
    });
    return { stateMachineArn: arn, creationDate: epoch(created) };
  }

  StartExecution(args) {
    const machine = this.machines.get(args.stateMachineArn);
    if (!machine) throw new ApiError('StateMachineDoesNotExist', `state machine ${args.stateMachineArn} does not exist`);
    const name = args.name ?? randomUUID();
    if (typeof name !== 'string' || !NAME.test(name)) throw new ApiError('InvalidName', 'name is not valid');
    let input = {};
    if (args.input !== undefined) {
      try {
        input = JSON.parse(args.input);
      } catch {
        throw new ApiError('InvalidExecutionInput', 'input is not JSON');
      }
    }
    const exe = new Execution(this, machine, name, input);
    if (this.executions.has(exe.arn)) throw new ApiError('ExecutionAlreadyExists', `execution ${exe.arn} exists`);
    this.executions.set(exe.arn, exe);
    log(`execution ${name}: started`);
    exe.run();
    return { executionArn: exe.arn, startDate: epoch(exe.started) };
  }

  execution(arn) {
    const exe = this.executions.get(arn);
    if (!exe) throw new ApiError('ExecutionDoesNotExist', `execution ${arn} does not exist`);
    return exe;
  }

  DescribeExecution(args) {
    return this.execution(args.executionArn).describe(false);
  }

  GetExecutionHistory(args) {
    const exe = this.execution(args.executionArn);
    let events = exe.history(false);
    if (args.reverseOrder) events = events.reverse();
    const start = args.nextToken === undefined ? 0 : Number(args.nextToken);
    if (!Number.isInteger(start) || start < 0 || start > events.length) throw new ApiError('InvalidToken', 'nextToken is not valid');
    const max = args.maxResults > 0 ? Math.min(args.maxResults, 1000) : 100;
    const page = events.slice(start, start + max);
    if (args.includeExecutionData === false) {
      for (const ev of page) {
        for (const [k, v] of Object.entries(ev)) {
          if (!k.endsWith('EventDetails') || !v || typeof v !== 'object') continue;
          const copy = { ...v };
          for (const f of ['input', 'output', 'parameters']) delete copy[f];
          ev[k] = copy;
        }
      }
    }
    const res = { events: page };
    if (start + max < events.length) res.nextToken = String(start + max);
    return res;
  }

  taskEntry(token) {
    const entry = typeof token === 'string' ? tokens.get(token) : undefined;
    if (!entry) throw new ApiError('InvalidToken', 'task token is not known');
    if (entry.settled || entry.done) throw new ApiError('TaskTimedOut', 'task is no longer waiting');
    return entry;
  }

  SendTaskSuccess(args) {
    const entry = this.taskEntry(args.taskToken);
    try {
      JSON.parse(args.output);
    } catch {
      throw new ApiError('InvalidOutput', 'output is not JSON');
    }
    entry.done = true;
    entry.resolve({ output: args.output });
    return {};
  }

  SendTaskFailure(args) {
    const entry = this.taskEntry(args.taskToken);
    entry.done = true;
    entry.resolve({ failure: { error: args.error, cause: args.cause } });
    return {};
  }

  SendTaskHeartbeat(args) {
    this.taskEntry(args.taskToken);
    return {};
  }

  handle(req, res) {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const reply = (status, obj) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID() });
        res.end(JSON.stringify(obj));
      };
      const op = (req.headers['x-amz-target'] ?? '').replace(/^AWSStepFunctions\./, '');
      const ops = ['CreateStateMachine', 'StartExecution', 'DescribeExecution', 'GetExecutionHistory', 'SendTaskSuccess', 'SendTaskFailure', 'SendTaskHeartbeat'];
      try {
        if (req.method !== 'POST' || !ops.includes(op)) throw new ApiError('UnknownOperationException', `operation ${JSON.stringify(op)} is not supported here`);
        let args;
        try {
          args = JSON.parse(body || '{}');
        } catch {
          throw new ApiError('SerializationException', 'request body is not JSON');
        }
        reply(200, this[op](args));
      } catch (err) {
        if (err instanceof ApiError) return reply(400, { __type: err.code, message: err.message });
        log(`${op}: ${err.stack}`);
        return reply(500, { __type: 'InternalFailure', message: 'internal error' });
      }
    });
  }

  listen() {
    const server = createServer((req, res) => this.handle(req, res));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve(server));
    });
  }

  abortAll() {
    for (const exe of this.executions.values()) exe.running?.abort();
  }
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  const { readFile } = await import('node:fs/promises');
  const functions = JSON.parse(await readFile(opts.functionsFile, 'utf8'));
  const srv = new Server(opts, functions);
  const http = await srv.listen();
  const { address, port } = http.address();
  log(`listening on ${address}:${port}`);
  const stop = () => {
    srv.abortAll();
    http.closeAllConnections();
    http.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

try {
  await main();
} catch (err) {
  log(`error: ${err.message}`);
  process.exit(1);
}
