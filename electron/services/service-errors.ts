// Errors the services raise for bad user input (a non-image, an unknown job, a LoRA of the wrong
// kind). Hosts show their message as is: the web server answers 400, Electron IPC rejects the call.
import { RequestValidationError } from '../../shared/backbone-params.js';
import { ImageInputError } from '../engine/image/rgb-image.js';

export class UserInputError extends Error {
  constructor(message: string, readonly problems: readonly string[] = []) {
    super(message);
    this.name = 'UserInputError';
  }
}

/** True for errors caused by what the user sent (as opposed to a failure of the app). */
export function isUserInputError(e: unknown): e is Error & { problems?: readonly string[] } {
  return e instanceof UserInputError || e instanceof RequestValidationError || e instanceof ImageInputError;
}
