"""Delphi Dashboard: entry point.  Page config, sign-in state, and st.navigation over pages/.

Pages are offered by role; a page that is not in this run's list cannot be reached by URL.
"""

from pathlib import Path

import streamlit as st

from lib import ui

HERE = Path(__file__).resolve().parent

# The favicon is a local PNG (served by this server): a :material/...: icon would be fetched from
# Google, and an emoji costs the first run 0.1-0.25 s (Streamlit compiles its emoji regex).
st.set_page_config(
    page_title="Delphi Dashboard", page_icon=HERE / "data" / "favicon.png", layout="wide"
)

PAGES = [  # (file, title, icon, minimum role, section)
    ("pages/overview.py", "Overview", ":material/dashboard:", "observer", "Results"),
    ("pages/statements.py", "Statements", ":material/format_list_bulleted:", "observer", "Results"),
    ("pages/trends.py", "Trends", ":material/trending_up:", "observer", "Results"),
    ("pages/panel.py", "Panel", ":material/groups:", "observer", "Results"),
    ("pages/reports.py", "Reports", ":material/description:", "observer", "Reports"),
    ("pages/next_round.py", "Next round", ":material/edit_note:", "coordinator", "Reports"),
    (
        "pages/coordinator.py",
        "Coordinator",
        ":material/admin_panel_settings:",
        "coordinator",
        "Coordination",
    ),
    ("pages/setup.py", "Set up a study", ":material/add_circle:", "coordinator", "Coordination"),
]

ui.mark_routed()
role = ui.role()
sections: dict[str, list] = {}
SIGNED_IN_ONLY = {"pages/setup.py"}  # reads server files and writes studies: not in demo mode
demo = ui.demo_mode()
for path, title, icon, minimum, section in PAGES:
    if demo and path in SIGNED_IN_ONLY:
        continue
    if ui.RANK[role] >= ui.RANK[minimum] and (HERE / path).exists():
        sections.setdefault(section, []).append(
            st.Page(path, title=title, icon=icon, default=title == "Overview")
        )
page = st.navigation(sections)

ui.access_banner()  # demo mode, or what is wrong with the sign-in configuration
ui.sign_in_panel()
ui.resolve_snapshot()
page.run()
