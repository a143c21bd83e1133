-- Reserved for sign-in throttling (per user and client, device cookies, lock events).
SELECT 1;
