-- Version 5: a secret only this device knows, made on first use. The token secret the device proposes when
-- it redeems an access code is derived from it, so sending the same code again after a lost reply proves
-- it is the same device.
ALTER TABLE device ADD COLUMN secret BLOB;
