-- Generate n synthetic conversations (with their contact, contact_inbox, messages and
-- label taggings) spread round-robin over the given inboxes, in one set-based statement.
-- Every value derives from hashint8extended(id, seed): the same ids and seed give the same
-- rows, so seeding a fresh database is deterministic, and 1,000,000 rows never touch Python.
--
-- Parameters: n, inbox_ids (int[]), t0 and t1 (UTC timestamp without time zone; created_at
-- spreads over [t0, t1] in id order and nothing is later than t1), seed, max_messages.
-- Chatwoot's trigger sets display_id. Returns the new conversation ids.
-- (No percent signs anywhere: psycopg placeholders. Use mod().)
WITH params AS (
    SELECT %(t0)s::timestamp AS t0, %(t1)s::timestamp AS t1,
           %(seed)s::bigint AS seed, greatest(%(max_messages)s::int, 1) AS max_messages,
           greatest(%(n)s::int, 1) AS n
),
slots AS (
    SELECT id AS inbox_id, account_id, channel_type,
           (row_number() OVER (ORDER BY id) - 1)::int AS slot, count(*) OVER ()::int AS slots
    FROM inboxes
    WHERE id = ANY (%(inbox_ids)s::int[])
),
agents AS (
    SELECT account_id::int AS account_id, array_agg(user_id::int ORDER BY user_id) AS ids
    FROM account_users GROUP BY account_id
),
-- nextval over an ordered subquery: ids follow g, so id order is creation order.
src AS MATERIALIZED (
    SELECT s.*,
           nextval('conversations_id_seq')::int AS conversation_id,
           nextval('contacts_id_seq')::int AS contact_id,
           nextval('contact_inboxes_id_seq') AS contact_inbox_id
    FROM (
        SELECT g, sl.inbox_id, sl.account_id, sl.channel_type
        FROM generate_series(1, %(n)s::int) AS g
        JOIN slots sl ON sl.slot = mod(g - 1, sl.slots)
        ORDER BY g
    ) s
),
rnd AS MATERIALIZED (
    SELECT src.*,
           hashint8extended(src.conversation_id, p.seed) AS h1,
           hashint8extended(src.conversation_id, p.seed + 1) AS h2,
           hashint8extended(src.contact_id, p.seed + 2) AS h3,
           p.t0, p.t1, p.seed, p.max_messages, p.n
    FROM src CROSS JOIN params p
),
shaped AS MATERIALIZED (
    SELECT r.*,
           created_at,
           n_msgs,
           gap,
           CASE WHEN u_status < 154 THEN 0 WHEN u_status < 820 THEN 1
                WHEN u_status < 922 THEN 2 ELSE 3 END AS status,
           CASE WHEN (r.h1 >> 30) & 1023 < 870 AND a.ids IS NOT NULL
                THEN a.ids[1 + mod((r.h1 >> 33) & 65535, cardinality(a.ids))] END AS assignee_id,
           array_remove(ARRAY[
               CASE WHEN lead THEN 'lead' END,
               CASE WHEN visit THEN 'visita-agendada' END,
               CASE WHEN converted THEN 'convertido-crm' END,
               CASE WHEN (r.h2 >> 10) & 1023 < 300
                    THEN (ARRAY['suporte', 'financeiro', 'matricula', 'reclamacao'])[1 + ((r.h2 >> 12) & 3)] END
           ], NULL) AS label_list,
           -- a few leads are flagged only through custom attributes, as agents sometimes do
           jsonb_strip_nulls(jsonb_build_object(
               'ai_probability_label', CASE WHEN has_ai THEN
                   CASE WHEN score >= 0.7 THEN 'alta' WHEN score >= 0.4 THEN 'media' ELSE 'baixa' END END,
               'ai_probability_score', CASE WHEN has_ai THEN score END,
               'is_lead', CASE WHEN NOT lead AND (r.h2 >> 40) & 1023 < 50 THEN 'sim' END,
               'origem', (ARRAY['instagram', 'facebook_ads', 'google', 'indicacao', 'site'])[1 + mod((r.h2 >> 44) & 255, 5)]
           )) AS custom_attributes
    FROM rnd r
    LEFT JOIN agents a ON a.account_id = r.account_id
    CROSS JOIN LATERAL (
        SELECT r.h1 & 1023 AS u_status,
               1 + mod((r.h1 >> 10) & 1023, r.max_messages) AS n_msgs,
               make_interval(mins => 1 + mod((r.h1 >> 20) & 1023, 30)::int) AS gap,
               (r.h1 >> 40) & 1023 < 460 AS lead,
               (r.h1 >> 40) & 1023 < 460 AND (r.h1 >> 50) & 1023 < 360 AS visit,
               (r.h1 >> 40) & 1023 < 460 AND (r.h1 >> 50) & 1023 < 360 AND r.h2 & 1023 < 410 AS converted,
               (r.h2 >> 20) & 1023 < 720 AS has_ai,
               round(((r.h2 >> 30) & 1023) / 1023.0, 2) AS score,
               r.t0 + (r.t1 - r.t0) * ((r.g - 1 + ((r.h2 >> 50) & 1023) / 1024.0) / r.n) AS created_at
    ) x
),
timed AS MATERIALIZED (
    SELECT s.*,
           least(s.t1, s.created_at + s.gap * (s.n_msgs - 1)) AS last_message_at,
           CASE WHEN s.n_msgs >= 2 THEN least(s.t1, s.created_at + s.gap) END AS first_reply_at,
           least(s.t1, s.created_at + s.gap * (s.n_msgs - 1) + make_interval(mins => 2)) AS updated_at
    FROM shaped s
),
person AS MATERIALIZED (
    SELECT t.contact_id, t.account_id, t.inbox_id, t.channel_type, t.created_at, t.last_message_at,
           first_name, last_name,
           first_name || ' ' || last_name AS full_name,
           '+55' || (ARRAY['11', '21', '31', '41', '51', '61', '71', '81', '85', '62', '48', '19'])
                        [1 + mod((t.h3 >> 12) & 255, 12)]
                 -- id * 48271 mod 10^8 is a bijection: phones never repeat (unique per inbox)
                 || '9' || lpad(mod(t.contact_id::bigint * 48271 + 12345678, 100000000)::text, 8, '0') AS phone,
           CASE WHEN (t.h3 >> 44) & 1023 < 700 THEN
               lower(translate(first_name || '.' || last_name,
                               'áàâãäéèêëíìîïóòôõöúùûüçÁÀÂÃÄÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇ',
                               'aaaaaeeeeiiiiooooouuuucAAAAAEEEEIIIIOOOOOUUUUC'))
               || t.contact_id::text || '@'
               || (ARRAY['gmail.com', 'hotmail.com', 'outlook.com', 'yahoo.com.br', 'uol.com.br', 'icloud.com'])
                      [1 + mod((t.h3 >> 54) & 255, 6)]
           END AS email
    FROM timed t
    CROSS JOIN LATERAL (
        SELECT (ARRAY['Ana', 'Maria', 'Juliana', 'Fernanda', 'Camila', 'Beatriz', 'Larissa', 'Patrícia',
                      'Aline', 'Bruna', 'Letícia', 'Gabriela', 'Mariana', 'Luana', 'Vitória', 'Isabela',
                      'João', 'José', 'Lucas', 'Pedro', 'Gabriel', 'Rafael', 'Felipe', 'Gustavo',
                      'Bruno', 'Thiago', 'Matheus', 'Rodrigo', 'André', 'Diego', 'Leonardo', 'Vinícius'])
                   [1 + mod(t.h3 & 4095, 32)] AS first_name,
               (ARRAY['Silva', 'Santos', 'Oliveira', 'Souza', 'Rodrigues', 'Ferreira', 'Alves', 'Pereira',
                      'Lima', 'Gomes', 'Costa', 'Ribeiro', 'Martins', 'Carvalho', 'Almeida', 'Lopes',
                      'Soares', 'Fernandes', 'Vieira', 'Barbosa', 'Rocha', 'Dias', 'Nascimento', 'Araújo',
                      'Moreira', 'Cavalcanti', 'Monteiro', 'Mendes', 'Freitas', 'Cardoso'])
                   [1 + mod((t.h3 >> 32) & 4095, 30)] AS last_name
    ) nm
),
ins_contacts AS (
    INSERT INTO contacts (id, name, email, phone_number, account_id, created_at, updated_at,
                          additional_attributes, custom_attributes, last_activity_at, country_code)
    SELECT contact_id, full_name, email, phone, account_id, created_at, created_at,
           jsonb_build_object('city', (ARRAY['São Paulo', 'Rio de Janeiro', 'Belo Horizonte', 'Curitiba',
                                             'Porto Alegre', 'Brasília', 'Salvador', 'Recife'])
                                         [1 + mod(contact_id, 8)]),
           '{}'::jsonb, last_message_at, 'BR'
    FROM person
    ORDER BY contact_id
),
ins_contact_inboxes AS (
    INSERT INTO contact_inboxes (id, contact_id, inbox_id, source_id, created_at, updated_at, pubsub_token)
    SELECT t.contact_inbox_id, t.contact_id, t.inbox_id,
           CASE WHEN t.channel_type = 'Channel::Whatsapp' THEN ltrim(p.phone, '+')
                ELSE md5('source:' || t.seed || ':' || t.contact_inbox_id)::uuid::text END,
           t.created_at, t.created_at,
           md5('pubsub:' || t.seed || ':' || t.contact_inbox_id)
    FROM timed t JOIN person p USING (contact_id)
),
ins_conversations AS (
    INSERT INTO conversations (id, account_id, inbox_id, status, assignee_id, created_at, updated_at,
                               contact_id, additional_attributes, contact_inbox_id, uuid,
                               last_activity_at, custom_attributes, first_reply_created_at,
                               waiting_since, cached_label_list, contact_last_seen_at,
                               agent_last_seen_at, snoozed_until)
    SELECT conversation_id, account_id, inbox_id, status, assignee_id, created_at, updated_at,
           contact_id, '{}'::jsonb, contact_inbox_id, md5('conversation:' || seed || ':' || conversation_id)::uuid,
           last_message_at, custom_attributes, first_reply_at,
           CASE WHEN first_reply_at IS NULL AND status = 0 THEN created_at END,
           NULLIF(array_to_string(label_list, ', '), ''), last_message_at,
           CASE WHEN assignee_id IS NOT NULL THEN updated_at END,
           CASE WHEN status = 3 THEN t1 + interval '1 day' END
    FROM timed
    ORDER BY conversation_id  -- Chatwoot's display_id trigger numbers them in this order
    RETURNING id
),
ins_messages AS (
    INSERT INTO messages (content, account_id, inbox_id, conversation_id, message_type, created_at,
                          updated_at, status, content_type, sender_type, sender_id, source_id)
    SELECT CASE WHEN mod(k, 2) = 1
                THEN (ARRAY['Oi, boa tarde! Gostaria de saber os valores dos planos.',
                            'Vocês têm aula experimental?', 'Qual o horário de funcionamento?',
                            'Quero agendar uma visita', 'Tem estacionamento?', 'Obrigado!',
                            'Consigo pagar no cartão?', 'Pode me mandar a localização?'])
                         [1 + mod(t.conversation_id + k, 8)]
                ELSE (ARRAY['Olá! Tudo bem? Vou te passar as informações.',
                            'Temos sim! Posso agendar para você?', 'Funcionamos das 6h às 23h.',
                            'Perfeito, qual o melhor dia para você?', 'Claro, segue o link.'])
                         [1 + mod(t.conversation_id + k, 5)] END,
           t.account_id, t.inbox_id, t.conversation_id,
           CASE WHEN mod(k, 2) = 1 THEN 0 ELSE 1 END,
           least(t.t1, t.created_at + t.gap * (k - 1)), least(t.t1, t.created_at + t.gap * (k - 1)),
           CASE WHEN mod(k, 2) = 1 THEN 0 ELSE 2 END, 0,
           CASE WHEN mod(k, 2) = 1 THEN 'Contact' ELSE 'User' END,
           CASE WHEN mod(k, 2) = 1 THEN t.contact_id ELSE t.assignee_id END,
           NULL
    FROM timed t CROSS JOIN LATERAL generate_series(1, t.n_msgs) AS k
    UNION ALL
    -- Chatwoot writes an activity message when a conversation is resolved (not counted).
    SELECT 'Conversa foi marcada como resolvida', t.account_id, t.inbox_id, t.conversation_id, 2,
           t.updated_at, t.updated_at, 0, 0, NULL, NULL, NULL
    FROM timed t WHERE t.status = 1
    ORDER BY 4, 6, 5
),
ins_taggings AS (
    INSERT INTO taggings (tag_id, taggable_type, taggable_id, context, created_at)
    SELECT tg.id, 'Conversation', t.conversation_id, 'labels', t.created_at
    FROM timed t CROSS JOIN LATERAL unnest(t.label_list) AS l(name)
    JOIN tags tg ON tg.name = l.name
)
SELECT coalesce(array_agg(id ORDER BY id), '{}'::int[]) FROM ins_conversations
