-- a comment; with a semicolon
CREATE TABLE a (id int PRIMARY KEY, note text DEFAULT 'x;y');

INSERT INTO a VALUES (1, 'it''s; fine'), (2, E'back\'slash; \\');;
;
/* block /* nested; */ still comment; */ SELECT "semi;colon" FROM a;
SELECT 1 -- trailing; comment
  + 2;
update a set note = null
