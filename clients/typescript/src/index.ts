// Switchboard's TypeScript client: typed calls to the HTTP API (generated from Switchboard's
// OpenAPI document by openapi-typescript, sent with openapi-fetch) and typed, verified events.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import { Webhook } from "standardwebhooks";
import type { components, paths, webhooks } from "./schema.js";

export type { components, paths, webhooks } from "./schema.js";

/** The API's schemas by name: `Schemas["Message"]`, `Schemas["Verification"]`, … */
export type Schemas = components["schemas"];

/** Every event Switchboard posts to an endpoint, discriminated by `type`. */
export type SwitchboardEvent = {
  [K in keyof webhooks]: webhooks[K]["post"]["requestBody"]["content"]["application/json"];
}[keyof webhooks];

/** The event of one type: `EventOf<"message.status_changed">`. */
export type EventOf<T extends SwitchboardEvent["type"]> = Extract<SwitchboardEvent, { type: T }>;

/** An RFC 9457 problem document, as every API error is answered. */
export type Problem = Schemas["Problem"];

/** A failed API call: the HTTP status and the problem the server answered with. */
export class SwitchboardError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(`${problem.code}: ${problem.detail ?? problem.title}`);
    this.name = "SwitchboardError";
  }
}

export interface Options {
  /** Where Switchboard listens, e.g. http://127.0.0.1:8080. */
  baseUrl: string;
  /** An API key (`switchboard keys create`). */
  apiKey: string;
  /** A fetch implementation; the global one by default. */
  fetch?: typeof globalThis.fetch;
}

/**
 * createSwitchboard returns a typed client of the whole API:
 *
 *   const sb = createSwitchboard({ baseUrl, apiKey });
 *   const { data, error } = await sb.POST("/v1/messages", {
 *     params: { header: { "Idempotency-Key": "job-1042-assigned" } },
 *     body: { to: "+14155550100", body: "Job #1042 assigned to you" },
 *   });
 */
export function createSwitchboard(opts: Options): Client<paths> {
  const client = createClient<paths>({ baseUrl: opts.baseUrl, fetch: opts.fetch });
  const auth: Middleware = {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${opts.apiKey}`);
      return request;
    },
  };
  client.use(auth);
  return client;
}

/**
 * must unwraps an openapi-fetch answer: the data, or a thrown SwitchboardError with the problem.
 */
export async function must<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (error !== undefined || data === undefined) {
    throw new SwitchboardError(response.status, (error ?? { code: "no_body", title: response.statusText }) as Problem);
  }
  return data;
}

/**
 * verifyEvent checks a delivery's Standard Webhooks signature with the endpoint's secret
 * (`whsec_…`) and returns the typed event. It throws when the signature is wrong or the
 * timestamp is more than five minutes away. Pass the raw body, exactly as received.
 */
export function verifyEvent(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  rawBody: string,
): SwitchboardEvent {
  const flat: Record<string, string> = {};
  for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
    const v = headers[name];
    flat[name] = Array.isArray(v) ? v.join(" ") : (v ?? "");
  }
  return new Webhook(secret).verify(rawBody, flat) as SwitchboardEvent;
}
