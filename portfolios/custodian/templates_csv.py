"""Example files of the CSV formats (downloadable from the imports page; documented in docs/imports.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CsvTemplate:
    kind: str
    label: str
    file_name: str
    content: str


TEMPLATES = {
    t.kind: t
    for t in [
        CsvTemplate(
            "positions_csv",
            "Positions",
            "positions-template.csv",
            "account,symbol,quantity,cost_basis,currency,as_of\n"
            "U7100001,AAPL,120,18450.00,USD,2025-01-31\n"
            "U7100001,MSFT,35.5,14200.25,USD,2025-01-31\n",
        ),
        CsvTemplate(
            "transactions_csv",
            "Transactions",
            "transactions-template.csv",
            "account,trade_date,settle_date,type,symbol,quantity,price,amount,currency,description,external_id\n"
            "U7100001,2025-02-03,2025-02-03,deposit,,,,25000.00,USD,Wire from client,CUST-0001\n"
            "U7100001,2025-02-04,2025-02-05,buy,AAPL,10,228.50,,USD,Bought 10 AAPL,CUST-0002\n"
            "U7100001,2025-02-14,2025-02-14,dividend,,,,2.50,USD,AAPL dividend,CUST-0003\n"
            "U7100001,2025-02-28,2025-02-28,fee,,,,45.00,USD,Advisory fee,\n",
        ),
        CsvTemplate(
            "prices_csv",
            "Prices",
            "prices-template.csv",
            "symbol,date,close\nAAPL,2025-01-31,236.00\nMSFT,2025-01-31,415.06\n",
        ),
    ]
}
