"""Performance benchmark of Delphi Dashboard: ``python -m bench`` (or ``python3 run.py bench``).

Seeded studies in the Google Forms layout at three sizes (``bench.generate``), timed through the
real refresh (``bench.refresh``), the pages (``bench.pages``, AppTest), a cold ``streamlit run``
(``bench.coldstart``), peak memory and Sheets API requests (``bench.sheets``), side by side with an
analyst-style pandas + pingouin script (``bench.baseline``).
Figures: README, "Performance and scale".
"""
