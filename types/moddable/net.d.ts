// `import Net from "net"`. Written from shared/reference/moddable-sdk.md §6.3 and
// modules/network/net/manifest.json (esp, esp32, pico, lin, mac, win; preloads "net"; includes
// $(MODDABLE)/examples/manifest_net.json). Only the keys xs-ota reads are declared precisely.

declare module "net" {
  export default class Net {
    private constructor();
    /**
     * Received signal strength in dBm (negative) from esp_wifi_sta_get_ap_info(), or undefined
     * when the station is not associated (the SDK typing says number: it is wrong).
     */
    static get(property: "RSSI"): number | undefined;
    static get(property: "IP" | "MAC" | "SSID" | "BSSID", iface?: string): string | undefined;
    static get(property: string, iface?: string): unknown;
  }
}
