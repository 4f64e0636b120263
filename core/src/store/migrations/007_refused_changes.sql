-- Version 7: refused edits keep the changes themselves (sealed like documents), so the user can send them
-- again once the school has changed what refused them. Rows from earlier versions have none: they can be
-- read, not sent again.
ALTER TABLE refused_edits ADD COLUMN changes BLOB;
