"""The study engine's screens: the drill, the card browser, the one card editor, import
and export. Every view works as a full page without JavaScript; with htmx the same URL
returns only the region it swaps (a named partial of the page template). Another person's
card, topic, import or image is a 404, never a 403."""
