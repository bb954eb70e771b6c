export const PAGE_HTML = "<!doctype html><title>xs-ota</title>";
