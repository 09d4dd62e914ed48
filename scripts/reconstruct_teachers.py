"""Reconstruct the Figure-1 teachers as supervised runs ``(N, D, loss)``.

Usage (from the repository root)::

    .venv/bin/python scripts/reconstruct_teachers.py            # rewrite the CSV
    .venv/bin/python scripts/reconstruct_teachers.py --check    # exit 1 if it would change

The digitised Figure-1 runs (``data/distillation_fig1.csv``) give each teacher's loss ``L_T``
but not its size or tokens. The paper's teachers are its supervised models (Busbridge et al.
2025, Table 13 sizes), trained either compute-optimally (``D = 20 N``) or on ``D = 512B``
tokens. This script names, for each teacher, the size and regime whose loss under the paper's
published supervised law (Table 6) is nearest to the digitised ``L_T``, and writes one
supervised run per matched teacher to ``data/distillation_fig1_teachers.csv``.

The matching rule
-----------------
1. Teachers: the distinct ``L_T`` of the 143M-student panel, which shows every teacher once
   per token count (11 teachers). The other panels repeat these values or show jittered
   readings of teachers whose size is not recoverable (the 975M and 1.82B panels), and are not
   used.
2. Candidates: the 12 Table-13 sizes listed in ``TABLE13_SIZES``, each at ``D = 20 N`` and at
   ``D = 512e9``: 24 ``(N, D)`` pairs, each with the paper law's loss.
3. Each teacher gets one candidate and each candidate at most one teacher: the assignment that
   minimises the total ``|L_T - L_paper|`` (SciPy's ``linear_sum_assignment``), counting only
   pairs within ``TOLERANCE`` (0.03 nats). A teacher with no candidate that close is left out.
4. A match is flagged ``ambiguous`` when another candidate lies within ``TIE`` (0.005 nats) of
   the matched one's distance; ``runner_up`` names the nearest other candidate.

What it implies. The reconstructed runs lie within ``TOLERANCE`` of the paper's supervised law
by construction, so a supervised law fitted to them is anchored to the paper's law through the
labels as much as through the losses. Ambiguous labels matter little: both candidates of a tie
give nearly the same loss under that law, so either label puts the run on the same surface.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import bayes_distill as bd

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "distillation_fig1.csv"
TARGET = ROOT / "data" / "distillation_fig1_teachers.csv"

#: Non-embedding sizes of the supervised models listed in Table 13 of Busbridge et al. (2025).
TABLE13_SIZES = (
    103e6, 143e6, 198e6, 266e6, 340e6, 546e6, 975e6, 1.82e9, 2.72e9, 4.82e9, 7.75e9, 12.6e9,
)  # fmt: skip
REGIMES = {"M=20": lambda n: 20.0 * n, "D=512B": lambda n: 512e9 + 0.0 * n}
TOLERANCE = 0.03  # nats
TIE = 0.005  # nats
PANEL_STUDENT = 143e6


def candidates() -> pd.DataFrame:
    """The 24 ``(N, D)`` pairs with their loss under the paper's supervised law."""
    sup = {k: bd.laws.PAPER[k] for k in bd.laws.PARAM_NAMES["supervised"]}
    rows = []
    for regime, tokens in REGIMES.items():
        for n in TABLE13_SIZES:
            d = float(tokens(n))
            rows.append(
                {
                    "N": n,
                    "D": d,
                    "regime": regime,
                    "law_loss": float(bd.laws.supervised_loss(n, d, **sup)),
                }
            )
    return pd.DataFrame(rows)


def reconstruct(runs: pd.DataFrame) -> pd.DataFrame:
    """Apply the matching rule (module docstring) to the raw Figure-1 table."""
    from scipy.optimize import linear_sum_assignment

    teachers = np.sort(runs.loc[np.isclose(runs["NS"], PANEL_STUDENT), "LT"].unique())
    cand = candidates()
    law = cand["law_loss"].to_numpy()
    dist = np.abs(teachers[:, None] - law[None, :])  # (teachers, candidates), nats
    cost = np.where(dist <= TOLERANCE, dist, 1e6)
    rows_i, cols_j = linear_sum_assignment(cost)
    rows = []
    for i, j in zip(rows_i, cols_j, strict=True):
        if dist[i, j] > TOLERANCE:
            continue
        others = np.delete(np.arange(len(cand)), j)
        k = others[np.argmin(dist[i, others])]
        rows.append(
            {
                "N": cand.loc[j, "N"],
                "D": cand.loc[j, "D"],
                "loss": float(teachers[i]),
                "regime": cand.loc[j, "regime"],
                "paper_law_loss": round(float(law[j]), 4),
                "distance": round(float(dist[i, j]), 4),
                "runner_up": f"N={cand.loc[k, 'N']:.3g} {cand.loc[k, 'regime']}",
                "runner_up_distance": round(float(dist[i, k]), 4),
                "ambiguous": bool(dist[i, k] - dist[i, j] < TIE),
            }
        )
    return pd.DataFrame(rows).sort_values("loss", ignore_index=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the CSV would change")
    args = parser.parse_args(argv)
    table = reconstruct(pd.read_csv(SOURCE))
    text = table.to_csv(index=False, float_format="%.6g")
    if args.check:
        same = TARGET.is_file() and TARGET.read_text() == text
        print("up to date" if same else f"{TARGET} differs from the reconstruction")
        return 0 if same else 1
    TARGET.write_text(text)
    print(table.to_string(index=False))
    print(f"wrote {TARGET} ({len(table)} teachers)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
