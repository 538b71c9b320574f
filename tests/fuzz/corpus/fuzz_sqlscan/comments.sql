-- c
/* a /* b */ c */ COMMIT;