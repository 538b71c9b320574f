SELECT $q$a;$q$, $1, x$y;
E'\';;