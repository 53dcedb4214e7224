/**
 * Domain errors. Each sets `name` so Step Functions Retry/Catch (which match `error.name`)
 * and callers can tell them apart without parsing messages.
 */
export class DomainError extends Error {
  override name = 'DomainError';
}

/** A topology or request names cluster objects that do not fit together. */
export class InvalidTopology extends DomainError {
  override name = 'InvalidTopology';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/** An event that would take the catalog to a state Greenplum never shows. */
export class InvalidTransition extends DomainError {
  override name = 'InvalidTransition';
}

/** Input that does not match a schema; `path` is the dotted path of the first bad field. */
export class ValidationError extends DomainError {
  override name = 'ValidationError';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}
