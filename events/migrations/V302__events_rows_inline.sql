-- Rows of up to 4 KB stay in the events table as they are. By default PostgreSQL starts TOAST work
-- on a row past about 2 KB: it tries to compress the payload (signed base64 ciphertext, such as a
-- MAM message, does not compress) and then moves it out of line, an extra insert into the TOAST
-- table and its index on every append and an extra lookup on every read. A MAM message event is
-- about 2.1 KB. Larger rows are still compressed or moved out of line as before.
ALTER TABLE events SET (toast_tuple_target = 4080);
