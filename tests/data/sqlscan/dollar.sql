DO $$
BEGIN
  RAISE NOTICE 'a;b';
END
$$;
CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $body$
BEGIN RETURN '$$;'; END;
$body$;
SELECT $1, a$b, $tag$ ; $ta$ ; $tag$;
SELECT 'unterminated; string
