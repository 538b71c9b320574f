averyveryveryverylongidentifiername_x;
SELECT E'\\';
