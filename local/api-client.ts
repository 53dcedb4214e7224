/** The API answered with an error; its message names the field or object. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    /** The API's error name (ClusterBusy, ValidationError …), when it gave one. */
    readonly code?: string,
  ) {
    super(message);
  }
}

const AWS_API = /^([a-z0-9]+)\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/;

/**
 * A client of the recoverseg API: `recoverseg serve` on localhost, or a deployed API Gateway,
 * whose IAM authorization wants requests signed with SigV4 (credentials from the usual chain).
 */
export class ApiClient {
  private readonly base: URL;

  constructor(endpoint: string) {
    try {
      this.base = new URL(endpoint.endsWith('/') ? endpoint : `${endpoint}/`);
    } catch {
      throw new ApiError(
        0,
        `--endpoint ${endpoint} is not a URL (for example http://127.0.0.1:3000)`,
      );
    }
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
    query: Record<string, string> = {},
  ): Promise<unknown> {
    const url = new URL(path.replace(/^\//, ''), this.base);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let headers: Record<string, string> = { 'content-type': 'application/json', host: url.host };
    const aws = AWS_API.exec(url.hostname);
    if (aws) {
      // Loaded here: `recoverseg serve` on localhost needs no signature, and these take longer
      // to load than such a command to run.
      const [{ SignatureV4 }, { Hash }, { defaultProvider }] = await Promise.all([
        import('@smithy/signature-v4'),
        import('@smithy/hash-node'),
        import('@aws-sdk/credential-provider-node'),
      ]);
      const signer = new SignatureV4({
        service: 'execute-api',
        region: aws[2]!,
        credentials: defaultProvider(),
        sha256: Hash.bind(null, 'sha256'),
      });
      const signed = await signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        body: payload,
      });
      headers = signed.headers as Record<string, string>;
    }
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body: payload });
    } catch (error) {
      throw new ApiError(
        0,
        `cannot reach ${this.base.origin}: ${(error as Error).message}; is \`recoverseg serve\` running?`,
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = { error: text };
    }
    if (!response.ok)
      throw new ApiError(
        response.status,
        (parsed as { error?: string })?.error ?? `HTTP ${response.status}`,
        (parsed as { name?: string })?.name,
      );
    return parsed;
  }
}
