-- mart.campaign_performance_daily with the current names and currency from the dims: the
-- mart stores ids only (a campaign renamed changes no day's figures), BI reads this view.
CREATE OR REPLACE VIEW mart.vw_campaign_performance_daily AS
SELECT p.tenant_id, t.tenant_name, p.date, p.account_id, a.account_name, a.currency, p.campaign_id, c.campaign_name,
       p.spend, p.impressions, p.reach, p.clicks, p.ctr, p.cpc, p.leads_form, p.leads_site, p.leads_messaging,
       p.leads_total, p.cpl, p.spend_facebook, p.spend_instagram, p.impressions_facebook, p.impressions_instagram,
       p.clicks_facebook, p.clicks_instagram, p.leads_facebook, p.leads_instagram
FROM mart.campaign_performance_daily AS p
LEFT JOIN model.dim_tenant AS t ON t.tenant_id = p.tenant_id
LEFT JOIN model.dim_ad_account AS a ON a.account_id = p.account_id
LEFT JOIN model.dim_campaign AS c ON c.campaign_id = p.campaign_id;
