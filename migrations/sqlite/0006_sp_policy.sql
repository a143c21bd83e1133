-- Reserved for per-SP privacy and access (pairwise NameID, attribute release, allowed groups).
SELECT 1;
