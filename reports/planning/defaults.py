"""The questionnaire every firm starts with: five questions on a 1-5 scale (1 the lowest risk)."""

from __future__ import annotations

NAME = "Risk tolerance"
DESCRIPTION = (
    "Five questions on time horizon, loss tolerance, experience, income stability and the goal. "
    "Each answer has a value from 1 (lowest risk) to 5 (highest risk)."
)
SCALE = (1, 5)

QUESTIONS: list[tuple[str, list[str]]] = [
    (
        "When do you expect to need most of this money?",
        ["Within 2 years", "In 2 to 5 years", "In 5 to 10 years", "In 10 to 15 years", "In more than 15 years"],
    ),
    (
        "Your investments lose 20 % of their value in one year. What do you do?",
        [
            "Sell everything",
            "Sell some to limit further losses",
            "Hold and wait for a recovery",
            "Hold and invest a little more",
            "Invest substantially more while prices are low",
        ],
    ),
    (
        "How much investing experience do you have?",
        [
            "None",
            "Savings accounts and certificates of deposit only",
            "Mutual funds or ETFs",
            "Individual stocks and bonds",
            "Options, margin or alternative investments",
        ],
    ),
    (
        "How stable do you expect your income to be over the next five years?",
        [
            "Very uncertain",
            "Somewhat uncertain",
            "Stable",
            "Stable and likely to grow",
            "Secure, with other sources of income besides",
        ],
    ),
    (
        "What is the main goal for this money?",
        [
            "Keep what I have, whatever the return",
            "Income, with little growth",
            "A balance of income and growth",
            "Growth, with some ups and downs",
            "The most growth possible, accepting large swings",
        ],
    ),
]
