 --
-- PostgreSQL database dump
--

\restrict abc

SET statement_timeout = 0;
CREATE TABLE public.t (x text);
COPY public.t (x) FROM stdin;
BEGIN;
COMMIT;
\.

--
-- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: -
--

BEGIN;

SELECT pg_catalog.lo_open('16522', 131072);
SELECT pg_catalog.lowrite(0, '\x726563656970');
SELECT pg_catalog.lo_close(0);

COMMIT;

--
-- PostgreSQL database dump complete
--

\unrestrict abc

