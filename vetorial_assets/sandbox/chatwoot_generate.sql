-- Generate n synthetic conversations (messages, label taggings; one contact and
-- contact_inbox per two conversations) spread round robin over the given inbox slots, set-based: 1,000,000 rows never touch
-- Python. Run by chatwoot_db.py as the steps below, in order, in one transaction, with ids
-- reserved beforehand (first_conversation_id, first_contact_id, first_contact_inbox_id).
--
-- Every value derives from hashint8extended(id, seed), so the same ids and seed give the
-- same rows (a fresh seed is deterministic). The categorical part of a conversation
-- (status, labels, custom attributes, message count...) comes from one of 4096 "profiles"
-- computed once: building jsonb per row would cost more than all the inserts together.
--
-- Parameters: n, n_contacts; slot_inbox int[], slot_account int[], slot_channel text[] (conversation g
-- goes to slot mod(g - 1, slots)), slot_display_base/slot_rank/slot_account_slots int[]
-- (display_id numbering per account, see the conversations step); t0 (UTC timestamp) and span_seconds (created_at spreads
-- over [t0, t0 + span] in id order; nothing is later than t0 + span); seed; max_messages;
-- activity_messages (write Chatwoot's "resolved" activity message).
-- No percent signs in this file other than placeholders (psycopg): use mod(). No ORDER BY:
-- generate_series and primary-key range scans already yield id order (the heap stays in
-- id order like Chatwoot's), and sorting 1,000,000 wide rows spills to disk.

-- step: profiles
DROP TABLE IF EXISTS pg_temp.sandbox_profiles;

-- step: profiles
CREATE TEMP TABLE sandbox_profiles ON COMMIT DROP AS
SELECT p,
       CASE WHEN u_status < 154 THEN 0 WHEN u_status < 820 THEN 1
            WHEN u_status < 922 THEN 2 ELSE 3 END AS status,
       assigned,
       n_msgs,
       gap,
       CASE WHEN n_msgs >= 2 THEN gap END AS first_reply_offset,
       gap * (n_msgs - 1) AS last_message_offset,
       gap * (n_msgs - 1) + interval '2 minutes' AS updated_offset,
       NULLIF(array_to_string(ARRAY[
           CASE WHEN lead THEN 'lead' END,
           CASE WHEN visit THEN 'visita-agendada' END,
           CASE WHEN converted THEN 'convertido-crm' END,
           CASE WHEN (h2 >> 10) & 1023 < 300
                THEN (ARRAY['suporte', 'financeiro', 'matricula', 'reclamacao'])[1 + ((h2 >> 12) & 3)] END
       ], ', '), '') AS cached_label_list,
       NULL::int[] AS tag_ids,
       jsonb_strip_nulls(jsonb_build_object(
           'ai_probability_label', CASE WHEN has_ai THEN
               CASE WHEN score >= 0.7 THEN 'alta' WHEN score >= 0.4 THEN 'media' ELSE 'baixa' END END,
           'ai_probability_score', CASE WHEN has_ai THEN score END,
           -- a few leads are flagged only through a custom attribute, as agents sometimes do
           'is_lead', CASE WHEN NOT lead AND (h2 >> 40) & 1023 < 50 THEN 'sim' END,
           'origem', (ARRAY['instagram', 'facebook_ads', 'google', 'indicacao', 'site'])[1 + mod((h2 >> 44) & 255, 5)]
       )) AS custom_attributes
FROM generate_series(0, 4095) AS p
CROSS JOIN LATERAL (
    SELECT hashint8extended(p, %(seed)s::bigint + 5) AS h1, hashint8extended(p, %(seed)s::bigint + 6) AS h2
) h
CROSS JOIN LATERAL (
    SELECT h1 & 1023 AS u_status,
           (h1 >> 10) & 1023 < 870 AS assigned,
           1 + mod((h1 >> 20) & 1023, greatest(%(max_messages)s::int, 1)) AS n_msgs,
           make_interval(mins => 1 + mod((h1 >> 30) & 1023, 30)::int) AS gap,
           (h1 >> 40) & 1023 < 460 AS lead,
           (h1 >> 40) & 1023 < 460 AND (h1 >> 50) & 1023 < 360 AS visit,
           (h1 >> 40) & 1023 < 460 AND (h1 >> 50) & 1023 < 360 AND h2 & 1023 < 410 AS converted,
           (h2 >> 20) & 1023 < 720 AS has_ai,
           round(((h2 >> 30) & 1023) / 1023.0, 2) AS score
) f;

-- step: profiles
UPDATE sandbox_profiles pr SET tag_ids = ARRAY(
    SELECT t.id FROM unnest(string_to_array(pr.cached_label_list, ', ')) WITH ORDINALITY AS l(name, i)
    JOIN tags t ON t.name = l.name ORDER BY l.i)
WHERE pr.cached_label_list IS NOT NULL;

-- step: profiles
ANALYZE sandbox_profiles;

-- step: contacts
INSERT INTO contacts (id, name, email, phone_number, account_id, created_at, updated_at,
                      additional_attributes, last_activity_at, country_code)
SELECT id, first_name || ' ' || last_name,
       CASE WHEN (h >> 44) & 1023 < 700 THEN
           lower(translate(first_name || '.' || last_name,
                           'áàâãäéèêëíìîïóòôõöúùûüçÁÀÂÃÄÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇ',
                           'aaaaaeeeeiiiiooooouuuucAAAAAEEEEIIIIOOOOOUUUUC'))
           || id::text || '@'
           || (ARRAY['gmail.com', 'hotmail.com', 'outlook.com', 'yahoo.com.br', 'uol.com.br', 'icloud.com'])
                  [1 + mod((h >> 54) & 255, 6)]
       END,
       -- id * 48271 mod 10^8 is a bijection: phone numbers never repeat
       '+55' || (ARRAY['11', '21', '31', '41', '51', '61', '71', '81', '85', '62', '48', '19'])
                    [1 + mod((h >> 12) & 255, 12)]
             || '9' || lpad(mod(id::bigint * 48271 + 12345678, 100000000)::text, 8, '0'),
       (%(slot_account)s::int[])[1 + mod(g - 1, cardinality(%(slot_account)s::int[]))],
       created_at, created_at,
       -- constants, not jsonb_build_object: building jsonb per row costs more than inserting it
       (ARRAY['{"city": "São Paulo"}'::jsonb, '{"city": "Rio de Janeiro"}', '{"city": "Belo Horizonte"}',
              '{"city": "Curitiba"}', '{"city": "Porto Alegre"}', '{"city": "Brasília"}',
              '{"city": "Salvador"}', '{"city": "Recife"}'])[1 + mod(id, 8)],
       created_at, 'BR'
FROM generate_series(1, %(n_contacts)s::int) AS g
CROSS JOIN LATERAL (
    SELECT %(first_contact_id)s::int + g - 1 AS id,
           hashint8extended(%(first_contact_id)s::int + g - 1, %(seed)s::bigint + 2) AS h,
           -- created with its first conversation (see the conversations step for the pairing)
           %(t0)s::timestamp + make_interval(secs => %(span_seconds)s::float8
               * (2 * cardinality(%(slot_account)s::int[]) * ((g - 1) / cardinality(%(slot_account)s::int[]))
                  + mod(g - 1, cardinality(%(slot_account)s::int[]))) / %(n)s::int) AS created_at
) c
CROSS JOIN LATERAL (
    SELECT (ARRAY['Ana', 'Maria', 'Juliana', 'Fernanda', 'Camila', 'Beatriz', 'Larissa', 'Patrícia',
                  'Aline', 'Bruna', 'Letícia', 'Gabriela', 'Mariana', 'Luana', 'Vitória', 'Isabela',
                  'João', 'José', 'Lucas', 'Pedro', 'Gabriel', 'Rafael', 'Felipe', 'Gustavo',
                  'Bruno', 'Thiago', 'Matheus', 'Rodrigo', 'André', 'Diego', 'Leonardo', 'Vinícius'])
               [1 + (h & 31)] AS first_name,
           (ARRAY['Silva', 'Santos', 'Oliveira', 'Souza', 'Rodrigues', 'Ferreira', 'Alves', 'Pereira',
                  'Lima', 'Gomes', 'Costa', 'Ribeiro', 'Martins', 'Carvalho', 'Almeida', 'Lopes',
                  'Soares', 'Fernandes', 'Vieira', 'Barbosa', 'Rocha', 'Dias', 'Nascimento', 'Araújo',
                  'Moreira', 'Cavalcanti', 'Monteiro', 'Mendes', 'Freitas', 'Cardoso'])
               [1 + mod((h >> 32) & 4095, 30)] AS last_name
) nm;

-- step: contact_inboxes
INSERT INTO contact_inboxes (id, contact_id, inbox_id, source_id, created_at, updated_at, pubsub_token)
SELECT %(first_contact_inbox_id)s::bigint + g - 1, ct.id, (%(slot_inbox)s::int[])[slot],
       CASE WHEN (%(slot_channel)s::text[])[slot] = 'Channel::Whatsapp' THEN ltrim(ct.phone_number, '+')
            ELSE lpad(to_hex(hashint8extended(ct.id, %(seed)s::bigint + 3)), 16, '0')
                 || lpad(to_hex(hashint8extended(ct.id, %(seed)s::bigint + 4)), 16, '0') END,
       ct.created_at, ct.created_at,
       lpad(to_hex(hashint8extended(%(first_contact_inbox_id)s::bigint + g, %(seed)s::bigint + 7)), 16, '0')
       || lpad(to_hex(%(first_contact_inbox_id)s::bigint + g - 1), 12, '0')
FROM contacts ct
CROSS JOIN LATERAL (
    SELECT ct.id - %(first_contact_id)s::int + 1 AS g
) gg
CROSS JOIN LATERAL (
    SELECT 1 + mod(g - 1, cardinality(%(slot_inbox)s::int[])) AS slot
) s
WHERE ct.id BETWEEN %(first_contact_id)s::int AND %(first_contact_id)s::int + %(n_contacts)s::int - 1;

-- step: conversations
INSERT INTO conversations (id, display_id, account_id, inbox_id, status, assignee_id, created_at, updated_at,
                           contact_id, additional_attributes, contact_inbox_id, uuid,
                           last_activity_at, custom_attributes, first_reply_created_at,
                           waiting_since, cached_label_list, contact_last_seen_at,
                           agent_last_seen_at, snoozed_until)
SELECT c.id, c.display_id, c.account_id, c.inbox_id, pr.status,
       CASE WHEN pr.assigned AND a.ids IS NOT NULL
            THEN a.ids[1 + mod((c.h >> 33) & 65535, cardinality(a.ids))] END AS assignee_id,
       c.created_at, least(c.t1, c.created_at + pr.updated_offset),
       %(first_contact_id)s::int + c.k - 1, '{}'::jsonb, %(first_contact_inbox_id)s::bigint + c.k - 1,
       encode(int8send(c.h) || int8send(hashint8extended(c.id, %(seed)s::bigint + 1)), 'hex')::uuid,
       least(c.t1, c.created_at + pr.last_message_offset), pr.custom_attributes,
       CASE WHEN pr.first_reply_offset IS NOT NULL THEN least(c.t1, c.created_at + pr.first_reply_offset) END,
       CASE WHEN pr.first_reply_offset IS NULL AND pr.status = 0 THEN c.created_at END,
       pr.cached_label_list,
       least(c.t1, c.created_at + pr.last_message_offset),
       CASE WHEN pr.assigned THEN least(c.t1, c.created_at + pr.updated_offset) END,
       CASE WHEN pr.status = 3 THEN c.t1 + interval '1 day' END
FROM (
    SELECT g, %(first_conversation_id)s::int + g - 1 AS id,
           -- returning customers: conversations g and g + slots share contact k (same inbox)
           ((g - 1) / cardinality(%(slot_account)s::int[]) / 2) * cardinality(%(slot_account)s::int[])
             + mod(g - 1, cardinality(%(slot_account)s::int[])) + 1 AS k,
           (%(slot_inbox)s::int[])[1 + mod(g - 1, cardinality(%(slot_inbox)s::int[]))] AS inbox_id,
           (%(slot_account)s::int[])[1 + mod(g - 1, cardinality(%(slot_account)s::int[]))] AS account_id,
           -- what Chatwoot's per-account sequence hands out, in g order (the trigger is off in
           -- bulk mode; otherwise it assigns the same numbers itself)
           (%(slot_display_base)s::int[])[1 + mod(g - 1, cardinality(%(slot_account)s::int[]))]
             + ((g - 1) / cardinality(%(slot_account)s::int[]))
               * (%(slot_account_slots)s::int[])[1 + mod(g - 1, cardinality(%(slot_account)s::int[]))]
             + (%(slot_rank)s::int[])[1 + mod(g - 1, cardinality(%(slot_account)s::int[]))] + 1 AS display_id,
           hashint8extended(%(first_conversation_id)s::int + g - 1, %(seed)s::bigint) AS h,
           %(t0)s::timestamp + make_interval(secs => %(span_seconds)s::float8
               * (g - 1 + (hashint8extended(g, %(seed)s::bigint) & 1023) / 1024.0) / %(n)s::int) AS created_at,
           %(t0)s::timestamp + make_interval(secs => %(span_seconds)s::float8) AS t1
    FROM generate_series(1, %(n)s::int) AS g
) c
JOIN sandbox_profiles pr ON pr.p = (c.h >> 8) & 4095
LEFT JOIN (
    SELECT account_id::int AS account_id, array_agg(user_id::int ORDER BY user_id) AS ids
    FROM account_users GROUP BY account_id
) a ON a.account_id = c.account_id;

-- step: messages
INSERT INTO messages (content, account_id, inbox_id, conversation_id, message_type, created_at,
                      updated_at, status, content_type, sender_type, sender_id)
SELECT CASE WHEN mod(k, 2) = 1
            THEN (ARRAY['Oi, boa tarde! Gostaria de saber os valores dos planos.',
                        'Vocês têm aula experimental?', 'Qual o horário de funcionamento?',
                        'Quero agendar uma visita', 'Tem estacionamento?', 'Obrigado!',
                        'Consigo pagar no cartão?', 'Pode me mandar a localização?'])
                     [1 + mod(c.id + k, 8)]
            ELSE (ARRAY['Olá! Tudo bem? Vou te passar as informações.',
                        'Temos sim! Posso agendar para você?', 'Funcionamos das 6h às 23h.',
                        'Perfeito, qual o melhor dia para você?', 'Claro, segue o link.'])
                     [1 + mod(c.id + k, 5)] END,
       c.account_id, c.inbox_id, c.id,
       CASE WHEN mod(k, 2) = 1 THEN 0 ELSE 1 END,
       least(c.updated_at, c.created_at + pr.gap * (k - 1)),
       least(c.updated_at, c.created_at + pr.gap * (k - 1)),
       CASE WHEN mod(k, 2) = 1 THEN 0 ELSE 2 END, 0,
       CASE WHEN mod(k, 2) = 1 THEN 'Contact' ELSE 'User' END,
       CASE WHEN mod(k, 2) = 1 THEN c.contact_id ELSE c.assignee_id END
FROM conversations c
JOIN sandbox_profiles pr ON pr.p = (hashint8extended(c.id, %(seed)s::bigint) >> 8) & 4095
CROSS JOIN LATERAL generate_series(1, pr.n_msgs) AS k
WHERE c.id BETWEEN %(first_conversation_id)s::int AND %(first_conversation_id)s::int + %(n)s::int - 1;

-- step: activity_messages
-- Chatwoot writes an activity message when a conversation is resolved (not counted).
INSERT INTO messages (content, account_id, inbox_id, conversation_id, message_type, created_at,
                      updated_at, status, content_type)
SELECT 'Conversa foi marcada como resolvida', c.account_id, c.inbox_id, c.id, 2,
       c.updated_at, c.updated_at, 0, 0
FROM conversations c
WHERE %(activity_messages)s::boolean AND c.status = 1
  AND c.id BETWEEN %(first_conversation_id)s::int AND %(first_conversation_id)s::int + %(n)s::int - 1;

-- step: taggings
INSERT INTO taggings (tag_id, taggable_type, taggable_id, context, created_at)
SELECT tag_id, 'Conversation', c.id, 'labels', c.created_at
FROM conversations c
JOIN sandbox_profiles pr ON pr.p = (hashint8extended(c.id, %(seed)s::bigint) >> 8) & 4095
CROSS JOIN LATERAL unnest(pr.tag_ids) AS tag_id
WHERE c.id BETWEEN %(first_conversation_id)s::int AND %(first_conversation_id)s::int + %(n)s::int - 1;
