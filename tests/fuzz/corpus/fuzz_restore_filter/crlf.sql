ÈCOPY public.t (a) FROM stdin;
x
\.
-- PostgreSQL database dump complete