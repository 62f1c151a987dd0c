-- mart.instagram_growth_daily for one Instagram account from day `first` on (a change on
-- day D moves the cumulative of every later day and the 7-day average of D..D+6).
-- cumulative_net: net summed over every day up to this one (days without data add 0);
-- net_7d_avg: mean net of the days with data among the 7 calendar days ending here,
-- NULL when none has data. Params: ig_account_id, first, last.
SELECT g.tenant_id, g.date, g.ig_account_id, g.has_data, g.follows, g.unfollows, g.net,
       g.cumulative_net, round(g.net_7d_avg, 4) AS net_7d_avg
FROM (
    SELECT f.tenant_id, f.date, f.ig_account_id, f.has_data, f.follows, f.unfollows, f.net,
           sum(coalesce(f.net, 0)) OVER (ORDER BY f.date) AS cumulative_net,
           avg(f.net) OVER (ORDER BY f.date RANGE BETWEEN INTERVAL '6 days' PRECEDING AND CURRENT ROW) AS net_7d_avg
    FROM model.fact_ig_follows_daily AS f
    WHERE f.ig_account_id = %(ig_account_id)s
      AND f.date <= %(last)s
) AS g
WHERE g.date BETWEEN %(first)s AND %(last)s
