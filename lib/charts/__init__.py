"""Frames in, Plotly figures out.  Colours are colour-blind safe and the same in every chart.

``base`` (colours, labels, layout, frozen figures), ``results`` (one snapshot's statuses and a
statement's ratings), ``trends`` (across rounds), ``panel`` (participation).  Nothing is
imported here: plotly comes in with the first chart module a page imports.
"""
