// The sending API as the Sending pages use it: typed shapes over the shared request().
import { request } from "../api";

export type DeliveryStatus =
  | "queued"
  | "sending"
  | "deferred"
  | "sent"
  | "delivered"
  | "bounced"
  | "complained"
  | "suppressed"
  | "failed"
  | "cancelled";

export const PENDING: DeliveryStatus[] = ["queued", "sending", "deferred"];

export interface SentEmail {
  id: number;
  batch: boolean;
  from: string;
  to: string[];
  cc: string[];
  subject: string | null;
  template_id: number | null;
  template_version: number | null;
  tags: string[];
  priority: string;
  send_at: string | null;
  created_at: string;
  counts: Partial<Record<DeliveryStatus, number>>;
  total: number;
}

export interface TimelineEvent {
  type: string;
  at: string;
  [detail: string]: unknown;
}

export interface Delivery {
  id: number;
  email_id: number;
  address: string;
  kind: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: string | null;
  transport: string | null;
  provider_message_id: string | null;
  last_response: string | null;
  created_at: string;
  finished_at: string | null;
}

export interface EmailDetail extends SentEmail {
  status: DeliveryStatus;
  recipients: (Delivery & { events: TimelineEvent[] })[];
}

export interface Suppression {
  address: string;
  reason: "hard_bounce" | "complaint" | "unsubscribe" | "manual";
  detail: string;
  created_at: string;
}

export interface TemplateSummary {
  id: number;
  name: string;
  current_version: number;
  updated_at: string;
}

export interface Template {
  id: number;
  name: string;
  version: number;
  current_version: number;
  subject: string;
  html: string | null;
  text: string | null;
  sample_variables: Record<string, unknown> | null;
  versions: { version: number; created_at: string }[];
  created_at: string;
  updated_at: string;
}

export interface TemplateInput {
  name: string;
  subject: string;
  html: string | null;
  text: string | null;
  sample_variables: Record<string, unknown> | null;
}

export interface Preview {
  subject: string;
  html: string | null;
  text: string | null;
  missing_variables: string[];
}

export interface DnsRecord {
  type: string;
  name: string;
  value: string;
  zone_line: string;
}

export interface DomainKey {
  selector: string;
  algorithm: string;
  active: boolean;
  created_at: string;
  dns: DnsRecord;
}

export interface SendingDomain {
  domain: string;
  keys: DomainKey[];
}

export interface RecordCheck {
  kind: "spf" | "dkim" | "dmarc";
  name: string;
  status: "found" | "missing" | "invalid" | "error";
  expected: string;
  found: string[];
  problems: string[];
}

export interface DomainCheck {
  domain: string;
  ok: boolean;
  records: RecordCheck[];
}

export interface TransportSetting {
  domain: string;
  provider: string;
  options: Record<string, string>;
}

export const PROVIDERS = ["capture", "smtp", "ses", "sendgrid", "mailgun", "mailersend"] as const;

export const SERIES_KEYS = [
  "sent",
  "delivered",
  "deferred",
  "bounced",
  "failed",
  "complained",
  "opened",
  "clicked",
] as const;
export type SeriesKey = (typeof SERIES_KEYS)[number];
export type SeriesPoint = { at: string } & Record<SeriesKey, number>;

export interface Metrics {
  hours: number;
  since: string;
  bucket_seconds: number;
  sent: number;
  delivered: number;
  failed: number;
  bounced: number;
  deferred: number;
  complained: number;
  suppressed: number;
  queue_depth: number;
  dead_letters: number;
  series: SeriesPoint[];
}

export interface SendInput {
  from: string;
  to: string[];
  cc?: string[];
  bcc?: string[];
  subject?: string;
  text?: string;
  html?: string;
  template_id?: number;
  variables?: Record<string, unknown>;
  tags?: string[];
}

export interface BatchInput extends Omit<SendInput, "to" | "cc" | "bcc"> {
  recipients: { to: string; variables?: Record<string, unknown> }[];
}

function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const found = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== null && value !== undefined) found.set(key, String(value));
  const text = found.toString();
  return text ? `?${text}` : "";
}

const enc = encodeURIComponent;

export const sending = {
  emails: (cursor: number | null, limit = 50) =>
    request<{ items: SentEmail[]; next_cursor: number | null }>("GET", `/api/v1/emails${query({ limit, cursor })}`),
  email: (id: number) => request<EmailDetail>("GET", `/api/v1/emails/${id}`),
  batch: (id: number) => request<SentEmail>("GET", `/api/v1/batches/${id}`),
  send: (input: SendInput) =>
    request<{ id: number; status: string; recipients: { id: number; address: string; status: string }[] }>(
      "POST",
      "/api/v1/emails",
      input,
    ),
  sendBatch: (input: BatchInput) =>
    request<{ id: number; accepted: number; rejected: unknown[] }>("POST", "/api/v1/batches", input),
  cancel: (id: number) => request<{ cancelled: number }>("POST", `/api/v1/emails/${id}/cancel`),
  deadLetters: (cursor: number | null, limit = 100) =>
    request<{ items: Delivery[]; next_cursor: number | null }>(
      "GET",
      `/api/v1/deliveries${query({ status: "failed", limit, cursor })}`,
    ),
  requeue: (ids?: number[]) => request<{ requeued: number }>("POST", "/api/v1/deliveries/requeue", ids ? { ids } : {}),
  suppressions: (cursor: number | null, reason: string | null, limit = 50) =>
    request<{ items: Suppression[]; next_cursor: number | null; total: number }>(
      "GET",
      `/api/v1/suppressions${query({ limit, cursor, reason })}`,
    ),
  suppression: (address: string) => request<Suppression>("GET", `/api/v1/suppressions/${enc(address)}`),
  suppress: (address: string, reason: Suppression["reason"], detail: string) =>
    request<Suppression>("POST", "/api/v1/suppressions", { address, reason, detail }),
  unsuppress: (address: string) => request<void>("DELETE", `/api/v1/suppressions/${enc(address)}`),
  templates: () => request<{ items: TemplateSummary[] }>("GET", "/api/v1/templates"),
  template: (id: number, version?: number) => request<Template>("GET", `/api/v1/templates/${id}${query({ version })}`),
  createTemplate: (input: TemplateInput) => request<Template>("POST", "/api/v1/templates", input),
  updateTemplate: (id: number, input: TemplateInput) => request<Template>("PUT", `/api/v1/templates/${id}`, input),
  deleteTemplate: (id: number) => request<void>("DELETE", `/api/v1/templates/${id}`),
  preview: (id: number, variables: Record<string, unknown> | null, version?: number) =>
    request<Preview>("POST", `/api/v1/templates/${id}/preview`, { variables, version: version ?? null }),
  domains: () => request<{ items: SendingDomain[] }>("GET", "/api/v1/sending/domains"),
  addDomain: (domain: string) => request<SendingDomain>("POST", "/api/v1/sending/domains", { domain }),
  rotate: (domain: string) => request<SendingDomain>("POST", `/api/v1/sending/domains/${enc(domain)}/rotate`, {}),
  check: (domain: string) => request<DomainCheck>("GET", `/api/v1/sending/domains/${enc(domain)}/check`),
  removeDomain: (domain: string) => request<void>("DELETE", `/api/v1/sending/domains/${enc(domain)}`),
  transports: () =>
    request<{ default_provider: string; items: TransportSetting[] }>("GET", "/api/v1/sending/transports"),
  saveTransport: (setting: TransportSetting) => request<unknown>("PUT", "/api/v1/sending/transports", setting),
  removeTransport: (domain: string) => request<void>("DELETE", `/api/v1/sending/transports${query({ domain })}`),
  metrics: (hours: number) => request<Metrics>("GET", `/api/v1/admin/metrics${query({ hours })}`),
};

/** Every live event type the Sending pages listen to. */
export const EMAIL_EVENTS = [
  "accepted",
  "queued",
  "sent",
  "delivered",
  "deferred",
  "bounced",
  "complained",
  "opened",
  "clicked",
  "unsubscribed",
  "failed",
  "suppressed",
  "cancelled",
]
  .map((type) => `email.${type}`)
  .join(",");

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
