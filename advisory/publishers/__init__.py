"""The official publishers followed: one module per publisher (its reader), the shared
text helpers, the bounded HTTP fetch, the noise rule, and the refresh that keeps news.

Readers and the noise rule are pure; `http` and `refresh` are the only network code.
Imports the domain and the state store's interface; never mail, run or service.
"""
