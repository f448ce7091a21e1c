"""What the operator gives: the config file, the subscriber list (inline and CSV) and the
folder of advisory files, each validated into domain models with every problem named as
"FILE: field: reason".

Imports the domain and the error tree only: no state, mail or network.
"""
