-- Sandbox Chatwoot database: the tables analytics reads, shaped like Chatwoot's own
-- db/schema.rb (chatwoot/chatwoot, ActiveRecord schema 2025_08_16). Column names, types,
-- defaults and the display_id triggers are Chatwoot's; tables the analytics view does not
-- read are left out, and so are Chatwoot's indexes except primary keys, the unique ones
-- its ids rely on (display_id per account, uuid) and those the view and the ETL use:
-- every extra index made a 1,000,000-conversation bulk seed several times slower.
-- Idempotent: safe to run on every start.
--
-- Rails `datetime` is `timestamp without time zone` holding UTC (precision: nil -> no
-- typmod, Rails 7 default -> timestamp(6)). Enums are integers:
--   conversations.status  0 open, 1 resolved, 2 pending, 3 snoozed
--   messages.message_type 0 incoming, 1 outgoing, 2 activity, 3 template
--   users/account_users.role 0 agent, 1 administrator

CREATE TABLE IF NOT EXISTS accounts (
    id                    serial PRIMARY KEY,
    name                  varchar NOT NULL,
    created_at            timestamp NOT NULL,
    updated_at            timestamp NOT NULL,
    locale                integer DEFAULT 0,
    domain                varchar(100),
    support_email         varchar(100),
    feature_flags         bigint NOT NULL DEFAULT 0,
    auto_resolve_duration integer,
    limits                jsonb DEFAULT '{}',
    custom_attributes     jsonb DEFAULT '{}',
    status                integer DEFAULT 0,
    internal_attributes   jsonb NOT NULL DEFAULT '{}',
    settings              jsonb DEFAULT '{}'
);

CREATE TABLE IF NOT EXISTS users (
    id                 serial PRIMARY KEY,
    provider           varchar NOT NULL DEFAULT 'email',
    uid                varchar NOT NULL DEFAULT '',
    encrypted_password varchar NOT NULL DEFAULT '',
    name               varchar NOT NULL,
    display_name       varchar,
    email              varchar,
    created_at         timestamp NOT NULL,
    updated_at         timestamp NOT NULL,
    pubsub_token       varchar,
    availability       integer DEFAULT 0,
    ui_settings        jsonb DEFAULT '{}',
    custom_attributes  jsonb DEFAULT '{}',
    type               varchar
);
CREATE INDEX IF NOT EXISTS index_users_on_email ON users (email);
CREATE UNIQUE INDEX IF NOT EXISTS index_users_on_uid_and_provider ON users (uid, provider);

CREATE TABLE IF NOT EXISTS account_users (
    id           bigserial PRIMARY KEY,
    account_id   bigint,
    user_id      bigint,
    role         integer DEFAULT 0,
    inviter_id   bigint,
    created_at   timestamp(6) NOT NULL,
    updated_at   timestamp(6) NOT NULL,
    active_at    timestamp,
    availability integer NOT NULL DEFAULT 0,
    auto_offline boolean NOT NULL DEFAULT true
);
CREATE UNIQUE INDEX IF NOT EXISTS uniq_user_id_per_account_id ON account_users (account_id, user_id);

CREATE TABLE IF NOT EXISTS channel_whatsapp (
    id                bigserial PRIMARY KEY,
    account_id        integer NOT NULL,
    phone_number      varchar NOT NULL,
    provider          varchar DEFAULT 'default',
    provider_config   jsonb DEFAULT '{}',
    created_at        timestamp(6) NOT NULL,
    updated_at        timestamp(6) NOT NULL,
    message_templates jsonb DEFAULT '{}'
);
CREATE UNIQUE INDEX IF NOT EXISTS index_channel_whatsapp_on_phone_number ON channel_whatsapp (phone_number);

CREATE TABLE IF NOT EXISTS channel_web_widgets (
    id            serial PRIMARY KEY,
    website_url   varchar,
    account_id    integer,
    created_at    timestamp NOT NULL,
    updated_at    timestamp NOT NULL,
    website_token varchar,
    widget_color  varchar DEFAULT '#1f93ff',
    welcome_title varchar
);

CREATE TABLE IF NOT EXISTS inboxes (
    id                            serial PRIMARY KEY,
    channel_id                    integer NOT NULL,
    account_id                    integer NOT NULL,
    name                          varchar NOT NULL,
    created_at                    timestamp NOT NULL,
    updated_at                    timestamp NOT NULL,
    channel_type                  varchar,
    enable_auto_assignment        boolean DEFAULT true,
    greeting_enabled              boolean DEFAULT false,
    greeting_message              varchar,
    email_address                 varchar,
    working_hours_enabled         boolean DEFAULT false,
    out_of_office_message         varchar,
    timezone                      varchar DEFAULT 'UTC',
    enable_email_collect          boolean DEFAULT true,
    csat_survey_enabled           boolean DEFAULT false,
    allow_messages_after_resolved boolean DEFAULT true,
    auto_assignment_config        jsonb DEFAULT '{}',
    lock_to_single_conversation   boolean NOT NULL DEFAULT false,
    portal_id                     bigint,
    sender_name_type              integer NOT NULL DEFAULT 0,
    business_name                 varchar,
    csat_config                   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS index_inboxes_on_account_id ON inboxes (account_id);
CREATE INDEX IF NOT EXISTS index_inboxes_on_channel_id_and_channel_type ON inboxes (channel_id, channel_type);

CREATE TABLE IF NOT EXISTS contacts (
    id                    serial PRIMARY KEY,
    name                  varchar DEFAULT '',
    email                 varchar,
    phone_number          varchar,
    account_id            integer NOT NULL,
    created_at            timestamp NOT NULL,
    updated_at            timestamp NOT NULL,
    additional_attributes jsonb DEFAULT '{}',
    identifier            varchar,
    custom_attributes     jsonb DEFAULT '{}',
    last_activity_at      timestamp,
    contact_type          integer DEFAULT 0,
    middle_name           varchar DEFAULT '',
    last_name             varchar DEFAULT '',
    location              varchar DEFAULT '',
    country_code          varchar DEFAULT '',
    blocked               boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS index_contacts_on_account_id ON contacts (account_id);

CREATE TABLE IF NOT EXISTS contact_inboxes (
    id            bigserial PRIMARY KEY,
    contact_id    bigint,
    inbox_id      bigint,
    source_id     varchar NOT NULL,
    created_at    timestamp(6) NOT NULL,
    updated_at    timestamp(6) NOT NULL,
    hmac_verified boolean DEFAULT false,
    pubsub_token  varchar
);

CREATE TABLE IF NOT EXISTS conversations (
    id                     serial PRIMARY KEY,
    account_id             integer NOT NULL,
    inbox_id               integer NOT NULL,
    status                 integer NOT NULL DEFAULT 0,
    assignee_id            integer,
    created_at             timestamp NOT NULL,
    updated_at             timestamp NOT NULL,
    contact_id             bigint,
    display_id             integer NOT NULL,
    contact_last_seen_at   timestamp,
    agent_last_seen_at     timestamp,
    additional_attributes  jsonb DEFAULT '{}',
    contact_inbox_id       bigint,
    uuid                   uuid NOT NULL DEFAULT gen_random_uuid(),
    identifier             varchar,
    last_activity_at       timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    team_id                bigint,
    campaign_id            bigint,
    snoozed_until          timestamp,
    custom_attributes      jsonb DEFAULT '{}',
    assignee_last_seen_at  timestamp,
    first_reply_created_at timestamp,
    priority               integer,
    sla_policy_id          bigint,
    waiting_since          timestamp(6),
    -- acts-as-taggable-on keeps "label, label" here on every save (which also bumps updated_at).
    cached_label_list      text
);
CREATE UNIQUE INDEX IF NOT EXISTS index_conversations_on_account_id_and_display_id ON conversations (account_id, display_id);
CREATE UNIQUE INDEX IF NOT EXISTS index_conversations_on_uuid ON conversations (uuid);
-- Not in Chatwoot: what the ETL's watermark probe and incremental filter need. It indexes
-- the view's expression (updated_at read as UTC, a timestamptz) so `account_id = ? AND
-- conversation_updated_at > ?` and `max(conversation_updated_at)` are index scans. A real
-- Chatwoot source needs the equivalent (built CONCURRENTLY), matching its view's expression.
CREATE INDEX IF NOT EXISTS vetorial_conversations_account_updated_utc
    ON conversations (account_id, (updated_at AT TIME ZONE 'UTC'));

CREATE TABLE IF NOT EXISTS messages (
    id                        serial PRIMARY KEY,
    content                   text,
    account_id                integer NOT NULL,
    inbox_id                  integer NOT NULL,
    conversation_id           integer NOT NULL,
    message_type              integer NOT NULL,
    created_at                timestamp NOT NULL,
    updated_at                timestamp NOT NULL,
    private                   boolean NOT NULL DEFAULT false,
    status                    integer DEFAULT 0,
    source_id                 varchar,
    content_type              integer NOT NULL DEFAULT 0,
    content_attributes        json DEFAULT '{}',
    sender_type               varchar,
    sender_id                 bigint,
    external_source_ids       jsonb DEFAULT '{}',
    additional_attributes     jsonb DEFAULT '{}',
    processed_message_content text,
    sentiment                 jsonb DEFAULT '{}'
);
-- Chatwoot's own composite index: the view's per-conversation count is an index-only scan on it.
CREATE INDEX IF NOT EXISTS index_messages_on_conversation_account_type_created
    ON messages (conversation_id, account_id, message_type, created_at);

CREATE TABLE IF NOT EXISTS labels (
    id              bigserial PRIMARY KEY,
    title           varchar,
    description     text,
    color           varchar NOT NULL DEFAULT '#1f93ff',
    show_on_sidebar boolean,
    account_id      bigint,
    created_at      timestamp(6) NOT NULL,
    updated_at      timestamp(6) NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS index_labels_on_title_and_account_id ON labels (title, account_id);

-- acts-as-taggable-on: conversation labels are taggings with taggable_type 'Conversation'
-- and context 'labels'; tag names are global (unique), labels are per account.
CREATE TABLE IF NOT EXISTS tags (
    id             serial PRIMARY KEY,
    name           varchar,
    taggings_count integer DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS index_tags_on_name ON tags (name);

CREATE TABLE IF NOT EXISTS taggings (
    id            serial PRIMARY KEY,
    tag_id        integer,
    taggable_type varchar,
    taggable_id   integer,
    tagger_type   varchar,
    tagger_id     integer,
    context       varchar(128),
    created_at    timestamp
);
CREATE INDEX IF NOT EXISTS index_taggings_on_taggable_id_and_taggable_type_and_context
    ON taggings (taggable_id, taggable_type, context);

-- Chatwoot's display_id machinery (hair_trigger in schema.rb): one sequence per account,
-- conversations numbered per account.
CREATE OR REPLACE FUNCTION accounts_after_insert_row_tr() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('create sequence IF NOT EXISTS conv_dpid_seq_%s', NEW.id);
    RETURN NULL;
END;
$$;
CREATE OR REPLACE TRIGGER accounts_after_insert_row_tr
    AFTER INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION accounts_after_insert_row_tr();

CREATE OR REPLACE FUNCTION conversations_before_insert_row_tr() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.display_id := nextval('conv_dpid_seq_' || NEW.account_id);
    RETURN NEW;
END;
$$;
CREATE OR REPLACE TRIGGER conversations_before_insert_row_tr
    BEFORE INSERT ON conversations FOR EACH ROW EXECUTE FUNCTION conversations_before_insert_row_tr();
