"""The province's view: roll-ups of the read models by region code and date, and exports.

Pure queries over the read-model tables (``rm_*``) and the record's device and gap
tables; nothing here writes. :mod:`regions` names and places region codes,
:mod:`rollups` sums a region's cooperatives, :mod:`exports` turns a roll-up or one
cooperative into rows for CSV and JSON.
"""
