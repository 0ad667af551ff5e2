// The Lambda function of the SendRejectionEmail state, in Node.js: it tells
// the applicant by email that the identity check did not succeed. It knows
// nothing of sfnenc: the sfnenc layer's proxy (AWS_LAMBDA_EXEC_WRAPPER=
// /opt/sfnenc-wrapper in template.yaml) gives it the event decrypted by
// contract, and seals what it returns.
//
// It decrypts the class contact only (SFNENC_CLASSES in template.yaml): the
// email address. Its error messages name fields, never values: the Node.js
// runtime writes a failed invocation's message to the function's log
// itself, where the proxy cannot seal it.
//
// Environment: MAIL_API_URL, the mail service's base URL.

const mailURL = process.env.MAIL_API_URL;

// A token is a string with this prefix: still encrypted where the function
// is about to send it means a configuration mistake.
const tokenPrefix = 'sfnenc:';

class MailServiceError extends Error {
  constructor(message) {
    super(message);
    this.name = 'MailServiceError';
  }
}

class MissingFieldError extends Error {
  constructor(message) {
    super(message);
    this.name = 'MissingFieldError';
  }
}

export const handler = async (event) => {
  if (!mailURL) {
    throw new MissingFieldError('send-rejection-email: MAIL_API_URL is not set');
  }
  const email = event.email;
  if (typeof email !== 'string' || email === '' || email.startsWith(tokenPrefix)) {
    throw new MissingFieldError('send-rejection-email: email is missing or still encrypted');
  }
  const id = event.creditApplicationId;
  const reason = event.outcome === 'inconclusive'
    ? 'we could not confirm your identity after several attempts'
    : 'we could not confirm your identity';
  const resp = await fetch(mailURL + '/v1/messages', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      to: email,
      subject: 'Your credit application ' + id,
      text: 'We are sorry: ' + reason + ', so we cannot continue with your credit application ' + id + '.',
    }),
  });
  if (!resp.ok) {
    throw new MailServiceError('send-rejection-email: mail service: HTTP ' + resp.status);
  }
  const answer = await resp.json();
  return { messageId: answer.messageId };
};
