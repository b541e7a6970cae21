-- The Microsoft app registration may authenticate with a certificate instead of a client
-- secret: the PEM (certificate + private key) is vault ciphertext like the secret. The admin
-- page keeps exactly one of them (the one entered last); the CHECK only insists on at least one,
-- so a registration without any credential cannot be stored.
ALTER TABLE microsoft_app
    ADD COLUMN client_certificate bytea
        CHECK (client_certificate IS NULL OR octet_length(client_certificate) >= 32),
    ADD CONSTRAINT microsoft_app_has_credential
        CHECK (client_secret IS NOT NULL OR client_certificate IS NOT NULL);
