-- Reserved for the browser (loopback) and device-code flows of rolegate login.
SELECT 1;
