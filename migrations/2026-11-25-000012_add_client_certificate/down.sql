-- A registration that only has a certificate cannot survive without the column: it is removed
-- (the admin enters it again, with a secret), rather than kept with no credential at all.
DELETE FROM microsoft_app WHERE client_secret IS NULL;
ALTER TABLE microsoft_app
    DROP CONSTRAINT microsoft_app_has_credential,
    DROP COLUMN client_certificate;
