"""LINE as a channel customers talk to: Flex Messages (:mod:`.flex`), the bot behind the
Messaging API webhook (:mod:`.bot`) and the opt-in pages (:mod:`.web`)."""
