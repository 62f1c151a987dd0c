"""Dagster type for the frame clean_insights() returns (`staging.insights_meta_ads`).

Built with dagster-pandas 0.29 (`create_dagster_pandas_dataframe_type` + `PandasColumn`);
an asset annotated with it fails its type check, before anything is loaded, when the
frame breaks the contract: missing/extra/reordered columns, wrong dtypes, a null or
duplicated hash_id, a negative number, or leads by origin that do not add up.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from dagster import BetaWarning
from dagster_pandas import PandasColumn, create_dagster_pandas_dataframe_type
from dagster_pandas.constraints import (
    ColumnConstraint,
    ColumnConstraintViolationException,
    DataFrameConstraint,
    DataFrameConstraintViolationException,
)

from vetorial_assets.meta.cleaner import (
    COUNT_COLUMNS,
    FETCHED_AT_COLUMN,
    RATIO_COLUMNS,
    STAGING_COLUMNS,
    TEXT_COLUMNS,
)

_MAX_SHOWN = 5  # offending rows quoted in a failure; a 300k-row dump helps nobody

# Staging names of the cleaner's text key fields (ad_id, publisher_platform, platform_position).
_KEY_TEXT_COLUMNS = ("ad_id", "plataforma", "posicionamento")


class TextValues(ColumnConstraint):
    """Every value is a str (or None when nullable): object dtype alone proves nothing."""

    def __init__(self, nullable: bool):
        self.nullable = nullable
        description = "Values must be str" + (" or null." if nullable else ".")
        super().__init__(error_description=description, markdown_description=description)

    def validate(self, dataframe: pd.DataFrame, column_name: str) -> None:
        column = dataframe[column_name]
        kind = pd.api.types.infer_dtype(column, skipna=self.nullable)
        if kind in ("string", "empty"):
            return
        is_text = column.map(lambda v: isinstance(v, str) or (self.nullable and v is None))
        raise ColumnConstraintViolationException(
            constraint_name=self.name,
            constraint_description=f"{self.error_description} Found {kind} values.",
            column_name=column_name,
            offending_rows=column[~is_text.astype(bool)].head(_MAX_SHOWN),
        )


class Md5Hex(ColumnConstraint):
    """hash_id is a lower-case md5 hex digest (32 characters)."""

    def __init__(self):
        description = "Values must be 32 lower-case hex characters (md5)."
        super().__init__(error_description=description, markdown_description=description)

    def validate(self, dataframe: pd.DataFrame, column_name: str) -> None:
        column = dataframe[column_name]
        ok = column.astype(str).str.fullmatch(r"[0-9a-f]{32}")
        if not ok.all():
            raise ColumnConstraintViolationException(
                constraint_name=self.name,
                constraint_description=self.error_description,
                column_name=column_name,
                offending_rows=column[~ok].head(_MAX_SHOWN),
            )


class ContractColumns(DataFrameConstraint):
    """Exactly the contract's columns, in table order, plus an optional trailing fetched_at."""

    def __init__(self):
        description = f"Columns must be {list(STAGING_COLUMNS)} (+ optional {FETCHED_AT_COLUMN!r})."
        super().__init__(error_description=description, markdown_description=description)

    def validate(self, dataframe: pd.DataFrame) -> None:
        received = list(dataframe.columns)
        if received not in (list(STAGING_COLUMNS), [*STAGING_COLUMNS, FETCHED_AT_COLUMN]):
            expected = set(STAGING_COLUMNS)
            raise DataFrameConstraintViolationException(
                constraint_name=self.name,
                constraint_description=(
                    f"{self.error_description} Missing {sorted(expected - set(received))}, "
                    f"unexpected {sorted(set(received) - expected - {FETCHED_AT_COLUMN})}, "
                    f"received order {received}."
                ),
            )


class LeadsAddUp(DataFrameConstraint):
    """leads_formulario + leads_site + leads_mensagem == leads_total on every row."""

    def __init__(self):
        description = "leads_formulario + leads_site + leads_mensagem must equal leads_total."
        super().__init__(error_description=description, markdown_description=description)

    def validate(self, dataframe: pd.DataFrame) -> None:
        parts = dataframe["leads_formulario"] + dataframe["leads_site"] + dataframe["leads_mensagem"]
        bad = np.flatnonzero((parts != dataframe["leads_total"]).to_numpy())
        if len(bad):
            raise DataFrameConstraintViolationException(
                constraint_name=self.name,
                constraint_description=(
                    f"{self.error_description} {len(bad)} rows differ, first at index {dataframe.index[bad[0]]}."
                ),
            )


class RatiosNullOnlyForZero(DataFrameConstraint):
    """ctr/cpc/cpl are NULL exactly when their denominator is 0 (the documented rule)."""

    _DENOMINATORS = {"ctr": "impressoes", "cpc": "cliques", "cpl": "leads_total"}

    def __init__(self):
        description = "ctr, cpc, cpl must be NULL exactly when impressoes, cliques, leads_total is 0."
        super().__init__(error_description=description, markdown_description=description)

    def validate(self, dataframe: pd.DataFrame) -> None:
        for ratio, denominator in self._DENOMINATORS.items():
            wrong = dataframe[ratio].isna() != (dataframe[denominator] == 0)
            if wrong.any():
                raise DataFrameConstraintViolationException(
                    constraint_name=self.name,
                    constraint_description=(
                        f"{self.error_description} {ratio} breaks it on {int(wrong.sum())} rows, "
                        f"first at index {dataframe.index[np.flatnonzero(wrong.to_numpy())[0]]}."
                    ),
                )


def _text_column(name: str) -> PandasColumn:
    key = name in _KEY_TEXT_COLUMNS
    return PandasColumn(
        name=name,
        constraints=[
            *PandasColumn.string_column(name, non_nullable=key).constraints,
            TextValues(nullable=not key),
        ],
    )


def _columns() -> list[PandasColumn]:
    return [
        PandasColumn(
            name="hash_id",
            constraints=[
                *PandasColumn.string_column("hash_id", non_nullable=True, unique=True).constraints,
                TextValues(nullable=False),
                Md5Hex(),
            ],
        ),
        PandasColumn.datetime_column("data", non_nullable=True),
        *(_text_column(name) for name in TEXT_COLUMNS),
        PandasColumn.float_column("valor_gasto", min_value=0.0, non_nullable=True),
        *(PandasColumn.integer_column(name, min_value=0, non_nullable=True) for name in COUNT_COLUMNS),
        # NULL is the rule for a zero denominator, so only present values are range-checked.
        *(PandasColumn.float_column(name, min_value=0.0, ignore_missing_vals=True) for name in RATIO_COLUMNS),
        PandasColumn.datetime_column(FETCHED_AT_COLUMN, non_nullable=True, is_required=False, tz="UTC"),
    ]


with warnings.catch_warnings():
    warnings.simplefilter("ignore", BetaWarning)  # dagster-pandas marks these APIs beta
    InsightsMetaAdsFrame = create_dagster_pandas_dataframe_type(
        name="InsightsMetaAdsFrame",
        description=(
            "Cleaned Meta Ads insights, one row per ad x day x platform x position "
            "(`staging.insights_meta_ads`; rules in docs/business-rules.md)."
        ),
        columns=_columns(),
        dataframe_constraints=[ContractColumns(), LeadsAddUp(), RatiosNullOnlyForZero()],
    )
