/**
 * The request and response types of the API by name, taken from the server's OpenAPI document
 * (schema.ts, generated): when the server's schemas change, `bun run generate` changes these.
 */
import type { components, operations } from "./schema.js";

type Schemas = components["schemas"];
type Operation = keyof operations;
/** The JSON body an operation takes. */
type JsonBody<Op extends Operation> = NonNullable<operations[Op]["requestBody"]> extends { content: { "application/json": infer Body } } ? Body : never;
/** The query string an operation takes. */
type Query<Op extends Operation> = NonNullable<operations[Op]["parameters"]["query"]>;
/** The JSON an operation answers with `status`. */
type Answer<Op extends Operation, Status extends keyof operations[Op]["responses"]> = operations[Op]["responses"][Status] extends {
  content: { "application/json": infer Body };
}
  ? Body
  : never;

export type ErrorBody = Schemas["Error"];
export type Role = Schemas["Role"];
export type Scope = Schemas["Scope"];

export type User = Schemas["User"];
export type Tokens = Schemas["Tokens"];
export type RegisterInput = JsonBody<"register">;
export type LoginInput = JsonBody<"login">;
export type DeleteAccountInput = JsonBody<"deleteAccount">;
export type ApiKey = Schemas["ApiKey"];
export type NewApiKey = Schemas["NewApiKey"];
export type ApiKeyList = Schemas["ApiKeyList"];
export type CreateApiKeyInput = JsonBody<"createApiKey">;

export type Message = Schemas["Message"];
export type MessageStatus = Schemas["MessageStatus"];
export type MessageInput = Schemas["MessageInput"];
export type MessageBatch = Schemas["MessageBatch"];
export type MessageUpdate = JsonBody<"updateMessage">;
export type ListMessagesQuery = Query<"listMessages">;
export type MessagePage = Answer<"listMessages", 200>;
export type DeleteFilter = JsonBody<"deleteMessagesByFilter">;

export type Conversation = Schemas["Conversation"];
export type ConversationList = Schemas["ConversationList"];
export type ConversationHistory = Schemas["ConversationHistory"];
export type UpsertConversationInput = JsonBody<"upsertConversation">;
export type ListConversationsQuery = Query<"listConversations">;
export type ConversationQuery = Query<"getConversation">;
export type HistoryQuery = Query<"listConversationMessages">;

export type SearchRequest = JsonBody<"searchMemoryWithBody">;
export type SearchResponse = Schemas["SearchResponse"];
export type SearchResult = Schemas["SearchResult"];
export type SearchExplain = Schemas["SearchExplain"];
export type ContextMessage = Schemas["ContextMessage"];
export type ReindexInput = JsonBody<"reindexTenant">;
export type ReindexResponse = Schemas["ReindexResponse"];

export type Tenant = Answer<"getTenant", 200>;
export type TenantList = Answer<"listTenants", 200>;
export type ListTenantsQuery = Query<"listTenants">;
export type TenantPolicy = Answer<"getTenantPolicy", 200>;
export type PolicyInput = JsonBody<"setTenantPolicy">;
export type ImportReport = Answer<"importTenant", 200>;

export type DataJob = Answer<"getJob", 200>;
export type JobStatus = DataJob["status"];

export type Webhook = Answer<"getWebhook", 200>;
export type NewWebhook = Answer<"createWebhook", 201>;
export type WebhookList = Answer<"listWebhooks", 200>;
export type WebhookInput = JsonBody<"createWebhook">;
export type WebhookUpdate = JsonBody<"updateWebhook">;
export type WebhookEventType = WebhookInput["events"][number];
export type RotatedSecret = Answer<"rotateWebhookSecret", 200>;
export type WebhookDelivery = Answer<"testWebhook", 202>;
export type DeliveryList = Answer<"listWebhookDeliveries", 200>;
export type ListDeliveriesQuery = Query<"listWebhookDeliveries">;

/**
 * A WebSocket event. `reason` is sent with `message.deleted` only: the document gives the field a
 * default, which openapi-typescript reads as "always present", so it is made optional here.
 */
export type MessageEvent = Omit<Schemas["MessageEvent"], "reason"> & { reason?: Schemas["MessageEvent"]["reason"] };
export type MessageEventType = MessageEvent["type"];

/**
 * Lines of a tenant's export (GET /v1/tenants/{tenant_id}/export): conversations first, then its
 * messages oldest first (src/tenants/export.ts). The export is documented as NDJSON text, so the
 * line shapes are written here from the schemas they are made of.
 */
export type ExportedConversation = { type: "conversation" } & Conversation & { last_activity_ms: number };
export type ExportedMessage = { type: "message" } & Message & {
  /** base64 of the FLOAT32 vector (little-endian), with `include_vectors` and an indexed message */
  vector?: string;
  /** the model that made `vector` */
  vector_model?: string;
};
export type ExportLine = ExportedConversation | ExportedMessage;

/**
 * What an import takes per line (src/tenants/import.ts): an exported line as it is, or a message
 * with the fields of MessageInput (its tenant is the one imported into).
 */
export type ImportLine =
  | ExportLine
  | (Omit<MessageInput, "tenant_id" | "ttl_seconds"> & { type?: "message"; tenant_id?: string; status?: MessageStatus; vector?: string; vector_model?: string });
