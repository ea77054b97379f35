import type { Agent, ClientRequest, IncomingHttpHeaders, IncomingMessage, RequestOptions } from 'node:http';

/** The headers of an answer, read by name (any case); a repeated header comes joined with ", ". */
export interface ResponseHeaders {
  get(name: string): string | null;
}

/** An answer whose headers are in; its body is read by `body()`. */
export interface HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: ResponseHeaders;
  /**
   * The whole body, its Content-Encoding undone. Rejects, with the failure as `cause`, when the
   * connection ends before the body does or the request's signal fires.
   */
  body(): Promise<Uint8Array>;
}

/**
 * How the client sends a GET. It resolves once the headers are in (the client settles its rate-limit
 * grant then), follows no redirect (a 3xx is an answer: a redirect would carry the token), and
 * rejects on a network failure or when `signal` fires, with the failure (its `code`: ECONNREFUSED,
 * ECONNRESET, a certificate error…) as `cause`.
 */
export interface HttpTransport {
  get(url: URL, headers: Readonly<Record<string, string>>, signal: AbortSignal): Promise<HttpResponse>;
}

/** A `fetch` as a transport: what tests inject failures through. */
export function fetchTransport(fetchImpl: typeof fetch): HttpTransport {
  return {
    async get(url, headers, signal) {
      const response = await fetchImpl(url, { headers, signal, redirect: 'manual' });
      return {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
        body: async () => new Uint8Array(await response.arrayBuffer()),
      };
    },
  };
}

export interface NodeTransportOptions {
  /** Certificates to trust instead of Node's list (and NODE_EXTRA_CA_CERTS): tests' throwaway ones. */
  readonly ca?: string | Buffer;
}

/**
 * The default transport, on `node:http` / `node:https`: Node's fetch (undici) cost 0.17–0.27 s of
 * CPU on its first call and web-stream plumbing on every page. Each transport has its own
 * keep-alive agents; `node:https` (and TLS) load only for an https URL.
 */
export function nodeTransport(options: NodeTransportOptions = {}): HttpTransport {
  return new NodeTransport(options);
}

const ACCEPT_ENCODING = 'gzip, deflate, br';

/**
 * An idle socket is closed after this, before a server's own keep-alive timeout is likely to close
 * it under a request (undici's default too); a server's `Keep-Alive: timeout=N` hint shortens it.
 */
const IDLE_SOCKET_MS = 4_000;

/** Errors of a reused idle socket that the server closed meanwhile: the request never reached it. */
const STALE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

interface Protocol {
  readonly agent: Agent;
  request(url: URL, options: RequestOptions, callback: (res: IncomingMessage) => void): ClientRequest;
}

/** A failed request: `cause` is Node's error, with its code; the message never carries a header. */
class TransportError extends Error {
  constructor(
    message: string,
    cause: unknown,
    /** Failed on a reused keep-alive socket before any answer. */
    readonly staleSocket = false,
  ) {
    super(message, { cause });
  }
}

class NodeTransport implements HttpTransport {
  private http?: Promise<Protocol>;
  private https?: Promise<Protocol>;

  constructor(private readonly options: NodeTransportOptions) {}

  private protocol(url: URL): Promise<Protocol> {
    const agentOptions = { keepAlive: true, timeout: IDLE_SOCKET_MS };
    if (url.protocol === 'https:') {
      this.https ??= import('node:https').then((https) => ({
        agent: new https.Agent({ ...agentOptions, ca: this.options.ca }),
        request: https.request,
      }));
      return this.https;
    }
    if (url.protocol === 'http:') {
      this.http ??= import('node:http').then((http) => ({
        agent: new http.Agent(agentOptions),
        request: http.request,
      }));
      return this.http;
    }
    return Promise.reject(new TransportError(`unsupported protocol ${url.protocol}`, null));
  }

  async get(url: URL, headers: Readonly<Record<string, string>>, signal: AbortSignal): Promise<HttpResponse> {
    const protocol = await this.protocol(url);
    try {
      return await send(protocol, url, headers, signal);
    } catch (error) {
      // Node's advice for keep-alive: a GET that died on a reused socket goes once more on a new one
      if (!(error instanceof TransportError) || !error.staleSocket || signal.aborted) throw error;
      return send(protocol, url, headers, signal);
    }
  }
}

function send(
  protocol: Protocol,
  url: URL,
  headers: Readonly<Record<string, string>>,
  signal: AbortSignal,
): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    if (signal.aborted) {
      reject(new TransportError('request aborted', signal.reason));
      return;
    }
    let answered = false;
    const request = protocol.request(
      url,
      { agent: protocol.agent, headers: { ...headers, 'Accept-Encoding': ACCEPT_ENCODING } },
      (res) => {
        answered = true;
        resolve(answer(res, signal, () => signal.removeEventListener('abort', onAbort)));
      },
    );
    const onAbort = () => request.destroy(new TransportError('request aborted', signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    request.on('error', (error: Error) => {
      signal.removeEventListener('abort', onAbort);
      if (answered) return; // the body's own listeners report it
      if (error instanceof TransportError) return reject(error);
      const code = (error as { code?: unknown }).code;
      const stale = request.reusedSocket && typeof code === 'string' && STALE_SOCKET_CODES.has(code);
      reject(new TransportError('request failed', error, stale));
    });
    request.end();
  });
}

/** The response with its body read at once (so a failure is seen even before `body()` is called). */
function answer(res: IncomingMessage, signal: AbortSignal, done: () => void): HttpResponse {
  const raw = new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const fail = (cause: unknown) => {
      done();
      reject(new TransportError('response body cut short', cause));
    };
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
    });
    res.on('end', () => {
      done();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length));
    });
    res.on('error', (error) => fail(signal.aborted ? signal.reason : error));
    res.on('close', () => {
      if (!res.complete) fail(signal.aborted ? signal.reason : connectionReset());
    });
  });
  const body = raw.then((bytes) => decode(bytes, res.headers['content-encoding']));
  // the client reads every body; until it does, a failure is only held, not unhandled
  body.catch(() => undefined);
  return {
    status: res.statusCode ?? 0,
    statusText: res.statusMessage ?? '',
    headers: headerGetter(res.headers),
    body: () => body,
  };
}

function connectionReset(): Error {
  return Object.assign(new Error('connection closed before the body ended'), { code: 'ECONNRESET' });
}

function headerGetter(headers: IncomingHttpHeaders): ResponseHeaders {
  return {
    get(name) {
      const value = headers[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

/**
 * Undoes Content-Encoding, last applied first, in one call each (cheaper than a stream for a page
 * already in memory). An unknown coding leaves the bytes as they are, as fetch does: the JSON check
 * then reports them.
 */
async function decode(bytes: Buffer, encoding: string | undefined): Promise<Buffer> {
  const codings = (encoding ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return bytes;
  const decoders = await (zlibDecoders ??= loadDecoders());
  let result = bytes;
  for (const coding of codings.reverse()) {
    const decoder = decoders.get(coding);
    if (!decoder) return result;
    try {
      result = await decoder(result);
    } catch (error) {
      throw new TransportError('response body cut short', error);
    }
  }
  return result;
}

type Decoder = (input: Buffer) => Promise<Buffer>;

/** Loaded with the first encoded body: most of Node's zlib is not needed before. */
let zlibDecoders: Promise<ReadonlyMap<string, Decoder>> | undefined;

async function loadDecoders(): Promise<ReadonlyMap<string, Decoder>> {
  const zlib = await import('node:zlib');
  const { promisify } = await import('node:util');
  const gunzip = promisify(zlib.gunzip);
  const inflate = promisify(zlib.inflate);
  const inflateRaw = promisify(zlib.inflateRaw);
  return new Map<string, Decoder>([
    ['gzip', gunzip],
    ['x-gzip', gunzip],
    // "deflate" is meant to be zlib-wrapped, but some servers send it raw
    ['deflate', (input) => (isZlibHeader(input) ? inflate(input) : inflateRaw(input))],
    ['br', promisify(zlib.brotliDecompress)],
  ]);
}

/** RFC 1950: deflate method (8) in the low nibble, header checksum a multiple of 31. */
function isZlibHeader(bytes: Buffer): boolean {
  return bytes.length >= 2 && (bytes[0] & 0x0f) === 8 && (bytes[0] * 256 + bytes[1]) % 31 === 0;
}
