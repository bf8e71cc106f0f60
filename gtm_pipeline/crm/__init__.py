"""The team's CRM: qualified conversations pushed there, deal outcomes read back into the journal.

* :mod:`.sink`: what a CRM must do (:class:`~.sink.CrmSink`), whatever it is;
* :mod:`.hubspot`: HubSpot through its official SDK; :mod:`.csv_export`: files to import anywhere;
* :mod:`.sync`: the passes (push, deal poll, erasure) over the store's ``crm_pushes`` rows;
* :mod:`.summary`: the note a push leaves (decisions and a journal link, never the reply's text).
"""
