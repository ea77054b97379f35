/**
 * The HTTP server's public surface. The UI mounts its pages on the app `createApp` returns
 * (`app.route('/', uiRoutes)`), typed with `AppEnv`: authentication and CSRF middleware already run on
 * every path; a page reads `c.get('principal')` and decides what an anonymous visitor gets.
 */
export { createApp, PUBLIC_ROUTES } from './app.js';
export type { AppDeps, AppScheduler } from './app.js';
export { Auth, fileCredentialStore, memoryCredentialStore, generateSecret } from './auth.js';
export type { CredentialStore, LoginResult, Session } from './auth.js';
export {
  CSRF_FORM_FIELD,
  CSRF_HEADER,
  SESSION_COOKIE,
  authenticate,
  clearSessionCookie,
  clientAddress,
  csrfProtection,
  requireAuth,
  setSessionCookie,
} from './middleware.js';
export type { AppEnv, Principal } from './middleware.js';
export { HttpError, errorBody } from './errors.js';
export type { ErrorBody, FieldErrors } from './errors.js';
export { createMetrics } from './metrics.js';
export type { ServerMetrics } from './metrics.js';
export { createLogger } from './logger.js';
export { presentPipeline, presentRun, pipelineStatus } from './present.js';
export type { PipelineStatus, PipelineView } from './present.js';
export { startServer } from './server.js';
export type { RunningServer } from './server.js';
export { SchedulerSeam } from './scheduler-adapter.js';
export { testDestination } from './destination-test.js';
