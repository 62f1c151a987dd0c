"""Deterministic synthetic Meta Ads and Instagram data for the sandbox Graph API.

Every number is drawn from a random generator seeded by (account, day, restatement
version), never by wall-clock or process state, so two runs (or two processes) serve
byte-identical answers. Generation is vectorised per account-day with numpy and the
JSON of each row is assembled from pre-rendered fragments: the sandbox has to serve
~100k rows/s for the benchmark (3 accounts x 200 ads x 6 placements x 90 days).

Shape of the data, as Meta returns it: numbers are JSON strings, ids are strings,
`account_id` has no `act_` prefix, zero-valued actions are omitted from `actions`, and
`lead` is Meta's aggregate of on-Facebook form leads (`onsite_conversion.lead_grouped`)
and website pixel leads (`offsite_conversion.fb_pixel_lead`), so
lead == lead_grouped + fb_pixel_lead on every row. Messaging replies are not leads to Meta.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from ..settings import DEFAULT_TIMEZONE

# The sandbox accounts keep the business's time zone.
SANDBOX_TIMEZONE = DEFAULT_TIMEZONE

# (publisher_platform, platform_position) in the order rows are served; the first N are used.
PLACEMENTS: tuple[tuple[str, str], ...] = (
    ("facebook", "feed"),
    ("instagram", "feed"),
    ("instagram", "instagram_stories"),
    ("facebook", "facebook_stories"),
    ("instagram", "instagram_reels"),
    ("facebook", "facebook_reels"),
    ("audience_network", "classic"),
    ("messenger", "messenger_inbox"),
)

ADS_PER_ADSET = 5
ADSETS_PER_CAMPAIGN = 2

# Campaign kinds decide which conversions an ad produces (cycled over campaigns).
KIND_FORM, KIND_SITE, KIND_MESSAGES, KIND_ENGAGEMENT = range(4)
_KIND_LABEL = ("Leads formulário", "Leads site", "Mensagens", "Engajamento")
_KIND_OBJECTIVE = ("OUTCOME_LEADS", "OUTCOME_LEADS", "OUTCOME_ENGAGEMENT", "OUTCOME_ENGAGEMENT")

# Action types, in the order they appear in a row's `actions` list.
ACTION_TYPES = (
    "link_click",
    "lead",
    "offsite_conversion.fb_pixel_lead",
    "onsite_conversion.lead_grouped",
    "onsite_conversion.messaging_first_reply",
    "onsite_conversion.post_save_follow",
    "post_engagement",
)

# Fields /insights accepts. Anything else is a Graph error 100, like the real API.
INSIGHT_FIELDS = frozenset(
    {
        "account_id",
        "account_name",
        "account_currency",
        "campaign_id",
        "campaign_name",
        "adset_id",
        "adset_name",
        "ad_id",
        "ad_name",
        "objective",
        "spend",
        "impressions",
        "reach",
        "clicks",
        "inline_link_clicks",
        "actions",
        "ctr",
        "cpc",
        "cpm",
        "date_start",
        "date_stop",
    }
)
BREAKDOWNS = ("publisher_platform", "platform_position")
LEVELS = ("account", "campaign", "adset", "ad")

# Instagram: this account stays under 100 followers, so Meta returns no insights for it.
IG_SMALL_ACCOUNT = "17841400000000003"
IG_LAG_DAYS = 2  # days at or after today - 1 are "not yet available" (Meta lags up to 48 h)


def sandbox_today() -> date:
    return datetime.now(ZoneInfo(SANDBOX_TIMEZONE)).date()


def account_number(account_id: str) -> int:
    """'act_100000000000001' or '100000000000001' -> 100000000000001."""
    text = account_id[4:] if account_id.startswith("act_") else account_id
    if not text.isdigit():
        raise ValueError(f"not an ad account id: {account_id!r}")
    return int(text)


def _seed(*parts: int) -> list[int]:
    # SeedSequence wants non-negative 32-bit-ish words; split big ids in two.
    words: list[int] = []
    for part in parts:
        words += [part & 0xFFFFFFFF, part >> 32]
    return words


@dataclass(frozen=True)
class AccountCatalog:
    """Campaigns, ad sets and ads of one ad account (ids and names are stable)."""

    number: int
    n_ads: int

    @property
    def account_id(self) -> str:
        return str(self.number)

    @property
    def name(self) -> str:
        return f"Sandbox Ads {self.number % 1000:03d}"

    @property
    def n_adsets(self) -> int:
        return -(-self.n_ads // ADS_PER_ADSET)

    @property
    def n_campaigns(self) -> int:
        return -(-self.n_adsets // ADSETS_PER_CAMPAIGN)

    def _id(self, kind: int, index: int) -> str:
        return f"12{self.number % 1_000_000:06d}{kind}{index:06d}"

    def campaign_id(self, c: int) -> str:
        return self._id(1, c)

    def adset_id(self, s: int) -> str:
        return self._id(2, s)

    def ad_id(self, a: int) -> str:
        return self._id(3, a)

    def ad_index(self, ad_id: str) -> int:
        if not (len(ad_id) == 15 and ad_id.startswith(f"12{self.number % 1_000_000:06d}3")):
            raise ValueError(f"ad {ad_id!r} is not in account {self.number}")
        return int(ad_id[-6:])

    @staticmethod
    def campaign_kind(c: int) -> int:
        return c % 4

    def campaign_name(self, c: int) -> str:
        return f"Campanha {c + 1:02d} · {_KIND_LABEL[self.campaign_kind(c)]}"

    def adset_name(self, s: int) -> str:
        return f"Conjunto {s + 1:02d} · Público {'AB'[s % 2]}"

    def ad_name(self, a: int) -> str:
        return f"Anúncio {a + 1:03d}"

    def campaign_of_ad(self, a: int) -> int:
        return a // ADS_PER_ADSET // ADSETS_PER_CAMPAIGN

    def adset_of_ad(self, a: int) -> int:
        return a // ADS_PER_ADSET

    def campaigns(self) -> list[dict]:
        return [
            {
                "id": self.campaign_id(c),
                "name": self.campaign_name(c),
                "account_id": self.account_id,
                "objective": _KIND_OBJECTIVE[self.campaign_kind(c)],
                "status": "ACTIVE",
                "effective_status": "ACTIVE",
            }
            for c in range(self.n_campaigns)
        ]

    def adsets(self) -> list[dict]:
        return [
            {
                "id": self.adset_id(s),
                "name": self.adset_name(s),
                "account_id": self.account_id,
                "campaign_id": self.campaign_id(s // ADSETS_PER_CAMPAIGN),
                "status": "ACTIVE",
                "effective_status": "ACTIVE",
            }
            for s in range(self.n_adsets)
        ]

    def ads(self) -> list[dict]:
        return [
            {
                "id": self.ad_id(a),
                "name": self.ad_name(a),
                "account_id": self.account_id,
                "campaign_id": self.campaign_id(self.campaign_of_ad(a)),
                "adset_id": self.adset_id(self.adset_of_ad(a)),
                "status": "ACTIVE",
                "effective_status": "ACTIVE",
            }
            for a in range(self.n_ads)
        ]

    def node(self) -> dict:
        return {
            "id": f"act_{self.number}",
            "account_id": self.account_id,
            "name": self.name,
            "currency": "BRL",
            "timezone_name": SANDBOX_TIMEZONE,
            "timezone_offset_hours_utc": -3,
            "account_status": 1,
            "business_country_code": "BR",
            # The seed's audit checks the attribution window: Meta's default 7-day click, 1-day view.
            "attribution_spec": [
                {"event_type": "CLICK_THROUGH", "window_days": 7},
                {"event_type": "VIEW_THROUGH", "window_days": 1},
            ],
        }


@dataclass(frozen=True)
class InsightsShape:
    """What a request asks for, as far as row content is concerned (a cache key)."""

    fields: tuple[str, ...]
    level: str = "ad"
    breakdowns: tuple[str, ...] = BREAKDOWNS


@dataclass
class DayBlock:
    """Metrics for every (ad, placement) of one account-day, before grouping."""

    ad: np.ndarray  # ad index per row
    placement: np.ndarray  # placement index per row
    metrics: dict[str, np.ndarray]  # spend (float), counts (int), actions by type (int)


def generate_day(number: int, day: date, version: int, n_ads: int, n_placements: int) -> DayBlock:
    """All (ad, placement) rows of an account-day; pure function of its arguments."""
    rng = np.random.default_rng(_seed(number, day.toordinal(), version))
    ads = np.repeat(np.arange(n_ads), n_placements)
    plc = np.tile(np.arange(n_placements), n_ads)
    n = ads.size
    # Per-ad appetite is stable across days (seeded by the account only), so ads keep a character.
    ad_rng = np.random.default_rng(_seed(number, 7))
    ad_scale = ad_rng.gamma(2.0, 400.0, size=n_ads)
    ad_cpm = ad_rng.uniform(8.0, 35.0, size=n_ads)
    plc_share = np.array([1.0, 0.9, 0.7, 0.5, 0.8, 0.4, 0.2, 0.1])[:n_placements]
    weekday = 0.8 + 0.1 * (day.weekday() < 5) + 0.1 * rng.random()

    impressions = rng.poisson(ad_scale[ads] * plc_share[plc] * weekday) + 1
    reach = np.maximum(1, (impressions * rng.uniform(0.6, 0.95, size=n)).astype(np.int64))
    spend = np.round(impressions * ad_cpm[ads] * rng.uniform(0.9, 1.1, size=n) / 1000.0, 2)
    inline = rng.binomial(impressions, 0.012)
    link_click = inline + rng.binomial(impressions, 0.002)
    engagement = link_click + rng.binomial(impressions, 0.02)

    kind = (ads // ADS_PER_ADSET // ADSETS_PER_CAMPAIGN) % 4
    form = np.where(kind == KIND_FORM, rng.binomial(link_click, 0.12), 0)
    pixel = np.where(kind == KIND_SITE, rng.binomial(link_click, 0.08), rng.binomial(link_click, 0.005))
    messaging = np.where(kind == KIND_MESSAGES, rng.binomial(link_click, 0.2), 0)
    on_instagram = np.array([p == "instagram" for p, _ in PLACEMENTS[:n_placements]])[plc]
    follows = np.where((kind == KIND_ENGAGEMENT) & on_instagram, rng.binomial(impressions, 0.002), 0)

    metrics = {
        "spend": spend,
        "impressions": impressions.astype(np.int64),
        "reach": reach,
        "inline_link_clicks": inline.astype(np.int64),
        "clicks": engagement.astype(np.int64),
        "link_click": link_click.astype(np.int64),
        "lead": (form + pixel).astype(np.int64),
        "offsite_conversion.fb_pixel_lead": pixel.astype(np.int64),
        "onsite_conversion.lead_grouped": form.astype(np.int64),
        "onsite_conversion.messaging_first_reply": messaging.astype(np.int64),
        "onsite_conversion.post_save_follow": follows.astype(np.int64),
        "post_engagement": engagement.astype(np.int64),
    }
    return DayBlock(ad=ads, placement=plc, metrics=metrics)


def _ratio(name: str, num: np.ndarray, den: np.ndarray, scale: float) -> list[str]:
    out = np.where(den > 0, num * scale / np.where(den > 0, den, 1), 0.0)
    return [f'"{name}":"{v:.6f}"' for v in out.tolist()]


class GraphData:
    """State of the synthetic world: restatements, vanished rows, late IG days, render cache."""

    def __init__(
        self, ads_per_account: int = 20, placements: int = 6, today: date | None = None, cache_blocks: int = 24
    ):
        if not 1 <= placements <= len(PLACEMENTS):
            raise ValueError(f"placements must be 1..{len(PLACEMENTS)}")
        if ads_per_account < 1:
            raise ValueError("ads_per_account must be >= 1")
        self.ads_per_account = ads_per_account
        self.placements = placements
        self._today = today
        self._lock = threading.Lock()
        self._versions: dict[tuple[int, date], int] = {}
        self._vanished_days: set[tuple[int, date]] = set()
        self._vanished_ads: dict[int, list[tuple[int, date | None]]] = {}
        self._malformed_days: set[tuple[int, date]] = set()
        # Hostile answers for bad-input tests: (account number, day) -> rows -> rows.
        self._tampered: dict[tuple[int, date], Callable[[list[dict]], list]] = {}
        self._ig_tampered: dict[tuple[str, date], Callable[[dict], object]] = {}
        self._ig_released: set[tuple[str, date]] = set()
        self._ig_withheld: set[tuple[str, date]] = set()
        self._cache: OrderedDict = OrderedDict()
        self._static: dict = {}
        self._cache_blocks = cache_blocks
        self._generation = 0  # bumped by every knob so cached renders go stale

    # ---- knobs -------------------------------------------------------------------------
    @property
    def today(self) -> date:
        return self._today or sandbox_today()

    @today.setter
    def today(self, value: date | None) -> None:
        self._today = value

    def _bump(self) -> None:
        self._generation += 1
        self._cache.clear()

    def restate(self, account_id: str, day: date) -> None:
        """Meta restated this day (late attribution): its values change, deterministically."""
        key = (account_number(account_id), day)
        with self._lock:
            self._versions[key] = self._versions.get(key, 0) + 1
            self._bump()

    def vanish(self, account_id: str, day: date) -> None:
        """Every row of this account-day disappears from the API."""
        with self._lock:
            self._vanished_days.add((account_number(account_id), day))
            self._bump()

    def vanish_ads(self, account_id: str, ad_ids, day: date | None = None) -> None:
        """These ads' rows disappear (on one day, or on every day when day is None)."""
        number = account_number(account_id)
        catalog = self.catalog(account_id)
        with self._lock:
            entries = self._vanished_ads.setdefault(number, [])
            entries += [(catalog.ad_index(str(a)), day) for a in ad_ids]
            self._bump()

    def malform_actions(self, account_id: str, day: date) -> None:
        """The first row of this account-day carries an `actions` value that is not a list."""
        with self._lock:
            self._malformed_days.add((account_number(account_id), day))
            self._bump()

    def tamper(self, account_id: str, day: date, change: Callable[[list[dict]], list]) -> None:
        """This account-day's rows pass through `change` (row dicts in, row dicts or raw JSON
        text out) before they are sent: a hostile page, for bad-input tests."""
        with self._lock:
            self._tampered[(account_number(account_id), day)] = change
            self._bump()

    def tamper_ig(self, ig_user_id: str, day: date, change: Callable[[dict], object]) -> None:
        """The follows_and_unfollows answer for this account-day passes through `change`."""
        with self._lock:
            self._ig_tampered[(ig_user_id, day)] = change

    def ig_tampering(self, ig_user_id: str, day: date) -> Callable[[dict], object] | None:
        return self._ig_tampered.get((ig_user_id, day))

    def reset(self) -> None:
        with self._lock:
            self._tampered.clear()
            self._ig_tampered.clear()
            self._versions.clear()
            self._vanished_days.clear()
            self._malformed_days.clear()
            self._vanished_ads.clear()
            self._ig_released.clear()
            self._ig_withheld.clear()
            self._bump()

    # ---- Meta Ads ----------------------------------------------------------------------
    def catalog(self, account_id: str) -> AccountCatalog:
        return AccountCatalog(account_number(account_id), self.ads_per_account)

    def _visible_ads(self, number: int, day: date) -> np.ndarray:
        if (number, day) in self._vanished_days:
            return np.zeros(0, dtype=np.int64)
        gone = {a for a, d in self._vanished_ads.get(number, ()) if d is None or d == day}
        ads = np.arange(self.ads_per_account)
        return ads[~np.isin(ads, list(gone))] if gone else ads

    def _group_keys(
        self, catalog: AccountCatalog, ads: np.ndarray, plc: np.ndarray, shape: InsightsShape
    ) -> np.ndarray:
        """Integer key per raw row; rows with equal keys are summed into one API row."""
        entity = {
            "ad": ads,
            "adset": ads // ADS_PER_ADSET,
            "campaign": ads // ADS_PER_ADSET // ADSETS_PER_CAMPAIGN,
            "account": np.zeros_like(ads),
        }[shape.level]
        n_plc = len(PLACEMENTS)
        if "platform_position" in shape.breakdowns:
            sub = plc  # the position identifies the placement (and so its platform)
        elif "publisher_platform" in shape.breakdowns:
            platforms = sorted({p for p, _ in PLACEMENTS})
            plat_index = np.array([platforms.index(p) for p, _ in PLACEMENTS])
            sub = plat_index[plc]
        else:
            sub = np.zeros_like(plc)
        return entity * n_plc + sub

    def day_count(self, account_id: str, day: date, shape: InsightsShape) -> int:
        """Rows the API returns for this account-day (cheap: no metrics generated)."""
        number = account_number(account_id)
        ads = self._visible_ads(number, day)
        if ads.size == 0:
            return 0
        if shape.level == "ad" and set(BREAKDOWNS) <= set(shape.breakdowns):
            return ads.size * self.placements
        catalog = self.catalog(account_id)
        full_ads = np.repeat(ads, self.placements)
        plc = np.tile(np.arange(self.placements), ads.size)
        return int(np.unique(self._group_keys(catalog, full_ads, plc, shape)).size)

    def day_rows(self, account_id: str, day: date, shape: InsightsShape) -> list[str]:
        """JSON text of each API row for this account-day (cached, small LRU)."""
        number = account_number(account_id)
        key = (number, day, shape, self._generation)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            version = self._versions.get((number, day), 0)
            visible = self._visible_ads(number, day)
            malformed = (number, day) in self._malformed_days
            change = self._tampered.get((number, day))
        rows = self._render(self.catalog(account_id), day, version, visible, shape)
        if change is not None and rows:
            rows = [r if isinstance(r, str) else json.dumps(r) for r in change([json.loads(r) for r in rows])]
        if malformed and rows:
            first = json.loads(rows[0])
            first["actions"] = {"action_type": "lead", "value": "1"}
            rows = [json.dumps(first, separators=(",", ":")), *rows[1:]]
        with self._lock:
            if key[3] == self._generation:
                self._cache[key] = rows
                while len(self._cache) > self._cache_blocks:
                    self._cache.popitem(last=False)
        return rows

    def _render(
        self, catalog: AccountCatalog, day: date, version: int, visible: np.ndarray, shape: InsightsShape
    ) -> list[str]:
        if visible.size == 0:
            return []
        block = generate_day(catalog.number, day, version, self.ads_per_account, self.placements)
        keep = np.isin(block.ad, visible)
        ads, plc = block.ad[keep], block.placement[keep]
        metrics = {k: v[keep] for k, v in block.metrics.items()}
        full = shape.level == "ad" and set(BREAKDOWNS) <= set(shape.breakdowns)
        if not full:
            keys = self._group_keys(catalog, ads, plc, shape)
            uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            metrics = {k: np.bincount(inverse, weights=v, minlength=uniq.size) for k, v in metrics.items()}
            metrics = {k: (np.round(v, 2) if k == "spend" else v.astype(np.int64)) for k, v in metrics.items()}
            # Reach is not additive across placements; a plausible de-duplicated figure.
            metrics["reach"] = np.maximum(1, (metrics["reach"] * 0.85).astype(np.int64))
            ads, plc = ads[first], plc[first]
        return self._rows_json(catalog, day, ads, plc, metrics, shape)

    def _static_prefix(self, catalog: AccountCatalog, shape: InsightsShape) -> list[str]:
        """Per ad index: the JSON of the requested id/name fields (they never change with the day)."""
        key = ("static", catalog.number, catalog.n_ads, shape.fields, shape.level)
        with self._lock:
            hit = self._static.get(key)
        if hit is not None:
            return hit
        rank = LEVELS.index(shape.level)
        getters = {
            "account_id": (0, lambda a: catalog.account_id),
            "account_name": (0, lambda a: catalog.name),
            "account_currency": (0, lambda a: "BRL"),
            "campaign_id": (1, lambda a: catalog.campaign_id(catalog.campaign_of_ad(a))),
            "campaign_name": (1, lambda a: catalog.campaign_name(catalog.campaign_of_ad(a))),
            "objective": (1, lambda a: _KIND_OBJECTIVE[catalog.campaign_kind(catalog.campaign_of_ad(a))]),
            "adset_id": (2, lambda a: catalog.adset_id(catalog.adset_of_ad(a))),
            "adset_name": (2, lambda a: catalog.adset_name(catalog.adset_of_ad(a))),
            "ad_id": (3, catalog.ad_id),
            "ad_name": (3, catalog.ad_name),
        }
        wanted = [(f, getters[f][1]) for f in shape.fields if f in getters and getters[f][0] <= rank]
        prefix = [",".join(f'"{f}":{json.dumps(fn(a))}' for f, fn in wanted) for a in range(catalog.n_ads)]
        with self._lock:
            self._static[key] = prefix
        return prefix

    def _rows_json(
        self,
        catalog: AccountCatalog,
        day: date,
        ads: np.ndarray,
        plc: np.ndarray,
        m: dict[str, np.ndarray],
        shape: InsightsShape,
    ) -> list[str]:
        """Row JSON assembled column-wise from fragments (several times faster than json.dumps of dicts)."""
        n = ads.size
        prefix = self._static_prefix(catalog, shape)
        columns: list[list[str]] = []
        if prefix and prefix[0]:
            columns.append([prefix[a] for a in ads.tolist()])
        for f in shape.fields:
            if f == "spend":
                columns.append([f'"spend":"{v:.2f}"' for v in m["spend"].tolist()])
            elif f in ("impressions", "reach", "inline_link_clicks", "clicks"):
                columns.append([f'"{f}":"{v}"' for v in m[f].tolist()])
            elif f == "ctr":
                columns.append(_ratio(f, m["clicks"], m["impressions"], 100.0))
            elif f == "cpc":
                columns.append(_ratio(f, m["spend"], m["clicks"], 1.0))
            elif f == "cpm":
                columns.append(_ratio(f, m["spend"], m["impressions"], 1000.0))
        stamp = day.isoformat()
        # Meta puts date_start/date_stop after the requested fields, then the breakdown columns.
        columns.append([f'"date_start":"{stamp}","date_stop":"{stamp}"'] * n)
        if "publisher_platform" in shape.breakdowns:
            names = [f'"publisher_platform":"{p}"' for p, _ in PLACEMENTS]
            columns.append([names[p] for p in plc.tolist()])
        if "platform_position" in shape.breakdowns:
            names = [f'"platform_position":"{q}"' for _, q in PLACEMENTS]
            columns.append([names[p] for p in plc.tolist()])
        if "actions" in shape.fields:
            columns.append(self._actions_json(m, n))
            return ["{" + ",".join(parts[:-1]) + parts[-1] + "}" for parts in zip(*columns)]
        return ["{" + ",".join(parts) + "}" for parts in zip(*columns)]

    @staticmethod
    def _actions_json(m: dict[str, np.ndarray], n: int) -> list[str]:
        """',"actions":[...]' per row, or '' when the row has no action (Meta leaves the key out)."""
        per_type = [
            [f'{{"action_type":"{t}","value":"{v}"}}' if v else "" for v in m[t].tolist()] for t in ACTION_TYPES
        ]
        out = []
        for items in zip(*per_type):
            text = ",".join(filter(None, items))
            out.append(',"actions":[' + text + "]" if text else "")
        return out

    # ---- Instagram ---------------------------------------------------------------------
    @staticmethod
    def ig_followers_count(ig_user_id: str) -> int:
        if ig_user_id == IG_SMALL_ACCOUNT:
            return 42
        return 5_000 + int(ig_user_id) % 97 * 113

    def ig_day_available(self, ig_user_id: str, day: date) -> bool:
        if (ig_user_id, day) in self._ig_withheld:
            return False
        if (ig_user_id, day) in self._ig_released:
            return True
        return day <= self.today - timedelta(days=IG_LAG_DAYS)

    def release_ig_day(self, ig_user_id: str, day: date) -> None:
        """A late day's data arrives (available before the usual 48 h lag)."""
        with self._lock:
            self._ig_withheld.discard((ig_user_id, day))
            self._ig_released.add((ig_user_id, day))

    def withhold_ig_day(self, ig_user_id: str, day: date) -> None:
        """This day's data is late: the API returns an empty data set for it until released."""
        with self._lock:
            self._ig_released.discard((ig_user_id, day))
            self._ig_withheld.add((ig_user_id, day))

    @staticmethod
    def ig_movement(ig_user_id: str, day: date) -> tuple[int, int, int]:
        """(follows, unfollows, unknown) of one account-day."""
        rng = np.random.default_rng(_seed(int(ig_user_id), day.toordinal(), 17))
        follows = int(rng.poisson(25))
        unfollows = int(rng.poisson(9))
        unknown = int(rng.random() < 0.15)
        return follows, unfollows, unknown

    def ig_days_in_range(self, since: int, until: int) -> list[date]:
        """Local (America/Sao_Paulo) days whose midnight falls in [since, until)."""
        tz = ZoneInfo(SANDBOX_TIMEZONE)
        first = datetime.fromtimestamp(since, tz).date()
        if datetime.combine(first, time.min, tz).timestamp() < since:
            first += timedelta(days=1)
        days = []
        d = first
        while datetime.combine(d, time.min, tz).timestamp() < until:
            days.append(d)
            d += timedelta(days=1)
        return days


@dataclass
class Paged:
    rows: list[str] = field(default_factory=list)
    total: int = 0
    # The day the next page will need, so the server can render it while the client parses this one.
    next_day: date | None = None


def page_of_range(
    data: GraphData, account_id: str, since: date, until: date, shape: InsightsShape, offset: int, limit: int
) -> Paged:
    """Rows [offset, offset+limit) of a date range, rendering only the days it touches."""
    out: list[str] = []
    position = 0
    total = 0
    next_day = None
    day = since
    while day <= until:
        count = data.day_count(account_id, day, shape)
        start, stop = position, position + count
        if count and stop > offset and start < offset + limit and len(out) < limit:
            rows = data.day_rows(account_id, day, shape)
            lo = max(0, offset - start)
            hi = min(count, offset + limit - start)
            out.extend(rows[lo:hi])
        position = stop
        total += count
        if next_day is None and stop >= offset + limit and day < until:
            next_day = day + timedelta(days=1)
        day += timedelta(days=1)
    return Paged(out, total, next_day)
