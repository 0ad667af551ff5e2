#!/usr/bin/env node
// run.mjs runs one execution of an Amazon States Language definition with the
// aws-local-stepfunctions interpreter, for the tests of package lambdamw.
// Every Task state is sent to one Lambda function running under the Lambda
// Runtime Interface Emulator; nothing is sent to AWS.
//
// Usage: node run.mjs DEFINITION.json INPUT.json INVOKE_URL
//
// It prints one JSON object: {"status", "output", "error", "cause"}, where
// output is the execution's output (a JSON value) and error and cause say
// why it failed. A function error becomes a task error whose name is the
// function's errorType (what Retry and Catch match) and whose message is the
// function's error report as JSON text, as Step Functions records it in the
// cause.

import { readFile } from 'node:fs/promises';

// aws-local-stepfunctions 3.0.0 calls Promise.withResolvers, which Node 20
// lacks.
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
// A Task state left without a local handler would call AWS: make that fail.
process.env.AWS_ENDPOINT_URL_LAMBDA = 'http://127.0.0.1:9';

const { StateMachine } = await import('aws-local-stepfunctions');

const [definitionFile, inputFile, url] = process.argv.slice(2);
if (!url) {
  process.stderr.write('usage: node run.mjs DEFINITION.json INPUT.json INVOKE_URL\n');
  process.exit(2);
}
const definition = JSON.parse(await readFile(definitionFile, 'utf8'));
const input = JSON.parse(await readFile(inputFile, 'utf8'));

async function invoke(event) {
  const resp = await fetch(url, { method: 'POST', body: JSON.stringify(event) });
  const text = await resp.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (body && typeof body === 'object' && !Array.isArray(body) && typeof body.errorType === 'string') {
    const err = new Error(text);
    err.name = body.errorType;
    throw err;
  }
  if (!resp.ok) throw new Error(`invoke: HTTP ${resp.status}`);
  return body;
}

// Retries wait 10 ms instead of their interval.
const handlers = {};
const retryIntervals = {};
for (const [name, state] of Object.entries(definition.States)) {
  if (state.Type === 'Task') {
    handlers[name] = invoke;
    retryIntervals[name] = 10;
  }
}

const machine = new StateMachine(definition);
const execution = machine.run(input, {
  overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides: retryIntervals },
});
const result = { status: 'SUCCEEDED' };
try {
  result.output = await execution.result;
} catch (err) {
  // The interpreter wraps the error that failed the execution.
  const failed = err.name === 'ExecutionError' && err.cause ? err.cause : err;
  result.status = 'FAILED';
  result.error = failed.name;
  result.cause = failed.message;
}
process.stdout.write(JSON.stringify(result) + '\n');
