"""Word lists the simulator writes real text from: category templates, reviews, support messages.

Each category template carries its vocabulary (nouns, materials, adjectives, uses), its price
level (median list price), the mean price elasticity of its items, its base return rate and its
yearly season (peak day of year and amplitude). Values are plausible for a European web shop,
not estimates from any data set.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CategoryTemplate:
    """Vocabulary and economics of one product category."""

    name: str
    nouns: tuple[str, ...]
    materials: tuple[str, ...]
    adjectives: tuple[str, ...]
    uses: tuple[str, ...]
    median_price: float
    elasticity: float  # mean own-price elasticity of the category's items (negative)
    return_rate: float  # share of lines returned by an averagely satisfied customer
    peak_day: int = 0  # day of year of the category's seasonal peak
    amplitude: float = 0.0  # relative seasonal swing of the category's share of traffic


CATEGORIES: tuple[CategoryTemplate, ...] = (
    CategoryTemplate(
        "kitchen",
        (
            "chef knife",
            "cutting board",
            "frying pan",
            "saucepan",
            "mixing bowl",
            "kettle",
            "coffee grinder",
            "spatula",
            "baking tray",
            "colander",
        ),
        ("stainless steel", "cast iron", "bamboo", "ceramic", "oak", "copper", "glass", "silicone"),
        ("classic", "professional", "compact", "non-stick", "premium", "everyday", "rustic"),
        ("for everyday cooking", "for the home chef", "for quick weekday meals"),
        35.0,
        -1.6,
        0.05,
    ),
    CategoryTemplate(
        "electronics",
        (
            "wireless headphones",
            "bluetooth speaker",
            "smartwatch",
            "power bank",
            "usb-c charger",
            "webcam",
            "keyboard",
            "computer mouse",
            "tablet stand",
            "action camera",
        ),
        ("aluminium", "recycled plastic", "matte black", "carbon fibre", "tempered glass"),
        (
            "wireless",
            "portable",
            "noise-cancelling",
            "ultra-slim",
            "waterproof",
            "smart",
            "fast-charging",
        ),
        ("for work and travel", "for the home office", "for gaming and streaming"),
        80.0,
        -2.2,
        0.08,
        335,
        0.3,
    ),
    CategoryTemplate(
        "clothing",
        (
            "t-shirt",
            "hoodie",
            "jeans",
            "summer dress",
            "rain jacket",
            "sweater",
            "chinos",
            "blouse",
            "polo shirt",
            "parka",
        ),
        ("cotton", "linen", "wool", "denim", "organic cotton", "merino", "polyester", "cashmere"),
        ("slim-fit", "oversized", "relaxed", "vintage", "classic", "lightweight", "cozy"),
        ("for everyday wear", "for the office", "for weekends outdoors"),
        40.0,
        -2.0,
        0.25,
        100,
        0.15,
    ),
    CategoryTemplate(
        "books",
        (
            "novel",
            "cookbook",
            "travel guide",
            "children's book",
            "biography",
            "notebook",
            "comic",
            "poetry collection",
        ),
        ("hardcover", "paperback", "spiral-bound", "illustrated"),
        ("bestselling", "illustrated", "award-winning", "collector's", "pocket"),
        ("for a quiet evening", "for curious minds", "as a gift for readers"),
        15.0,
        -1.2,
        0.03,
        350,
        0.25,
    ),
    CategoryTemplate(
        "toys",
        (
            "building blocks",
            "jigsaw puzzle",
            "plush bear",
            "toy car",
            "board game",
            "doll house",
            "kite",
            "train set",
        ),
        ("wooden", "plastic", "felt", "cardboard"),
        ("colourful", "educational", "classic", "giant", "mini"),
        ("for kids aged 3 and up", "for family game night", "for creative play"),
        25.0,
        -1.8,
        0.05,
        345,
        0.6,
    ),
    CategoryTemplate(
        "sports",
        (
            "yoga mat",
            "dumbbell set",
            "water bottle",
            "resistance bands",
            "tennis racket",
            "football",
            "cycling helmet",
            "jump rope",
        ),
        ("rubber", "neoprene", "steel", "foam", "carbon"),
        ("lightweight", "non-slip", "adjustable", "pro", "durable"),
        ("for home workouts", "for the gym", "for outdoor training"),
        30.0,
        -1.7,
        0.08,
        15,
        0.25,
    ),
    CategoryTemplate(
        "beauty",
        (
            "face cream",
            "shampoo",
            "lipstick",
            "perfume",
            "hair dryer",
            "nail polish",
            "serum",
            "body lotion",
        ),
        ("argan oil", "aloe vera", "vitamin c", "shea butter", "rose water"),
        ("hydrating", "organic", "long-lasting", "gentle", "luxury"),
        ("for daily care", "for sensitive skin", "for a night out"),
        20.0,
        -1.4,
        0.04,
        340,
        0.2,
    ),
    CategoryTemplate(
        "garden",
        (
            "garden hose",
            "plant pot",
            "pruning shears",
            "lawn chair",
            "bird feeder",
            "watering can",
            "raised bed",
            "solar lamp",
        ),
        ("terracotta", "teak", "galvanised steel", "recycled plastic", "rattan"),
        ("weatherproof", "foldable", "heavy-duty", "decorative", "expandable"),
        ("for balconies and patios", "for keen gardeners", "for summer evenings outside"),
        45.0,
        -1.5,
        0.06,
        140,
        0.6,
    ),
    CategoryTemplate(
        "home",
        (
            "table lamp",
            "throw pillow",
            "wall clock",
            "scented candle",
            "picture frame",
            "rug",
            "vase",
            "storage basket",
        ),
        ("linen", "glass", "rattan", "marble", "walnut", "velvet"),
        ("minimalist", "scandinavian", "handmade", "modern", "cosy"),
        ("for the living room", "for a calm bedroom", "as a housewarming gift"),
        35.0,
        -1.5,
        0.07,
        330,
        0.15,
    ),
    CategoryTemplate(
        "furniture",
        (
            "office chair",
            "bookshelf",
            "coffee table",
            "desk",
            "bed frame",
            "sofa",
            "wardrobe",
            "side table",
        ),
        ("oak", "pine", "walnut", "metal", "velvet"),
        ("ergonomic", "solid", "extendable", "mid-century", "compact"),
        ("for small apartments", "for the home office", "for family living"),
        180.0,
        -1.1,
        0.07,
    ),
    CategoryTemplate(
        "jewellery",
        ("necklace", "ring", "bracelet", "earrings", "wristwatch", "pendant", "anklet", "brooch"),
        ("sterling silver", "gold-plated", "rose gold", "titanium", "pearl"),
        ("elegant", "delicate", "statement", "vintage", "minimalist"),
        ("for special occasions", "as an anniversary gift", "for everyday elegance"),
        60.0,
        -1.9,
        0.1,
        345,
        0.35,
    ),
    CategoryTemplate(
        "pet",
        (
            "dog bed",
            "cat tree",
            "leash",
            "pet bowl",
            "chew toy",
            "litter box",
            "dog collar",
            "aquarium",
        ),
        ("nylon", "plush", "stainless steel", "sisal", "natural rubber"),
        ("washable", "orthopedic", "reflective", "sturdy", "calming"),
        ("for dogs of all sizes", "for indoor cats", "for happy pets"),
        30.0,
        -1.3,
        0.05,
    ),
    CategoryTemplate(
        "grocery",
        (
            "coffee beans",
            "green tea",
            "olive oil",
            "dark chocolate",
            "honey",
            "granola",
            "pasta",
            "spice set",
        ),
        ("organic", "fair-trade", "italian", "single-origin", "wildflower"),
        ("artisan", "premium", "family-size", "gourmet", "everyday"),
        ("for breakfast", "for the pantry", "for foodies"),
        10.0,
        -0.8,
        0.01,
        350,
        0.1,
    ),
    CategoryTemplate(
        "baby",
        (
            "stroller",
            "baby monitor",
            "high chair",
            "crib",
            "diaper bag",
            "baby carrier",
            "pacifier",
            "bottle set",
        ),
        ("organic cotton", "bpa-free plastic", "beech wood", "aluminium", "bamboo"),
        ("foldable", "safe", "lightweight", "convertible", "soft"),
        ("for newborns", "for busy parents", "for travel with little ones"),
        60.0,
        -0.9,
        0.09,
    ),
    CategoryTemplate(
        "office",
        (
            "fountain pen",
            "desk organizer",
            "stapler",
            "planner",
            "monitor stand",
            "backpack",
            "label printer",
            "whiteboard",
        ),
        ("leather", "bamboo", "aluminium", "recycled paper", "canvas"),
        ("ergonomic", "compact", "refillable", "magnetic", "professional"),
        ("for the office", "for students", "for staying organised"),
        25.0,
        -1.6,
        0.05,
        245,
        0.3,
    ),
    CategoryTemplate(
        "outdoor",
        (
            "tent",
            "sleeping bag",
            "hiking backpack",
            "camping stove",
            "headlamp",
            "trekking poles",
            "cooler box",
            "hammock",
        ),
        ("ripstop nylon", "down", "aluminium", "polyester", "titanium"),
        ("ultralight", "waterproof", "four-season", "compact", "rugged"),
        ("for weekend camping", "for long hikes", "for festivals"),
        70.0,
        -1.8,
        0.07,
        170,
        0.5,
    ),
)

COLORS = (
    "black",
    "white",
    "grey",
    "navy",
    "red",
    "green",
    "beige",
    "blue",
    "pink",
    "brown",
    "yellow",
    "olive",
)
BRAND_SYLLABLES = (
    "nor",
    "vik",
    "lu",
    "meo",
    "ka",
    "ren",
    "sol",
    "via",
    "tek",
    "ora",
    "fin",
    "dal",
    "bri",
    "zo",
    "mar",
    "lin",
    "qu",
    "ella",
    "ber",
    "to",
    "sa",
    "vo",
    "mi",
    "ro",
)
COUNTRIES = ("DE", "FR", "GB", "NL", "ES", "IT", "PL", "SE", "AT", "BE")
COUNTRY_WEIGHTS = (0.26, 0.16, 0.15, 0.08, 0.09, 0.09, 0.06, 0.04, 0.04, 0.03)
DEVICES = ("mobile", "desktop", "tablet")
CHANNELS = ("organic", "paid_search", "social", "email", "direct")
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
PAYMENTS = ("card", "paypal", "invoice", "gift_card")

# Descriptions: {Adjective} is capitalised; every slot is filled per item.
DESCRIPTION_TEMPLATES = (
    "{Adjective} {noun} in {material} by {brand}, {use}. {feature}.",
    "The {brand} {noun} is made of {material}. {feature}. Ideal {use}.",
    "A {adjective} {noun} {use}. Made of {material}. {feature}.",
)
FEATURES = (
    "Designed to last for years",
    "Easy to clean and care for",
    "Comes with a two-year warranty",
    "Lightweight and easy to carry",
    "Available in {color}",
    "Tested for quality by independent labs",
    "Packed in recyclable packaging",
)

# Review sentences by star rating (index 0 = 1 star); {noun} / {material} are the item's.
REVIEW_SENTENCES = (
    (
        "Terrible, the {noun} broke after a few days.",
        "Complete waste of money.",
        "Arrived damaged and nobody helped me.",
        "Do not buy this {noun}.",
        "Awful quality, the {material} is flimsy.",
        "Very disappointed, sending it back.",
    ),
    (
        "Disappointed with the quality.",
        "Not worth the money.",
        "The {material} started to wear quickly.",
        "Smaller than expected and poorly made.",
        "Looks cheaper than in the pictures.",
        "Would not buy again.",
    ),
    (
        "It is okay, nothing special.",
        "Decent {noun} but the {material} feels a bit cheap.",
        "Average quality for the price.",
        "Some good points, some bad ones.",
        "Does the job, but I expected more.",
        "Fine for occasional use.",
    ),
    (
        "Very happy with it overall.",
        "Good quality for the price.",
        "Does the job well.",
        "Nice {material}, sturdy and well made.",
        "Would recommend this {noun}.",
        "Pleased with the purchase.",
    ),
    (
        "Absolutely love this {noun}!",
        "Best purchase I have made this year.",
        "Excellent quality, exactly as described.",
        "Works perfectly and looks great.",
        "Worth every penny.",
        "The {material} is beautiful and feels premium.",
    ),
)
REVIEW_TITLES = (
    ("Awful", "Do not buy", "Waste of money", "Broke quickly"),
    ("Disappointing", "Not great", "Poor quality", "Expected better"),
    ("It's okay", "Average", "Mixed feelings", "Decent"),
    ("Good buy", "Happy with it", "Solid", "Recommended"),
    ("Excellent!", "Love it", "Perfect", "Five stars"),
)
DELIVERY_SENTENCES = (
    ("Delivery took ages.", "The parcel was late and battered."),
    ("Delivery was fast.", "Arrived quickly and well packed."),
)

# Support messages per intent: (category, texts, answer); {order} / {noun} are filled per message.
SUPPORT_INTENTS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "track_order": (
        "delivery",
        (
            "Where is my order {order}?",
            "My order {order} has not arrived yet, can you check the status?",
            "Hi, when will order {order} with the {noun} be delivered?",
        ),
        "Your order {order} has shipped and should arrive within 2-3 business days; the tracking "
        "link is in your confirmation email.",
    ),
    "cancel_order": (
        "orders",
        (
            "Please cancel my order {order}.",
            "I ordered by mistake, can you cancel {order}?",
            "I want to cancel order {order} before it ships.",
        ),
        "Your order {order} has been cancelled; the refund reaches your account within 5 "
        "business days.",
    ),
    "return_item": (
        "returns",
        (
            "I would like to return the {noun} from order {order}.",
            "The {noun} is not what I expected, how do I send it back?",
            "How can I return my {noun}? Order {order}.",
        ),
        "Sorry the {noun} did not work out. Start a return from your account page within 30 days "
        "and we refund you as soon as it arrives.",
    ),
    "refund_status": (
        "returns",
        (
            "I returned the {noun} two weeks ago and still have no refund.",
            "When will I get my money back for order {order}?",
        ),
        "Refunds are issued within 5 business days of the return arriving; the one for order "
        "{order} is on its way.",
    ),
    "payment_issue": (
        "payments",
        (
            "My payment for order {order} was declined but I was charged.",
            "I was charged twice for order {order}.",
        ),
        "We checked order {order}: only one payment was captured, any other hold is released by "
        "your bank within a few days.",
    ),
}


# What shoppers type for a product that the catalogue names otherwise (the simulator's search
# queries use one of these for a share of searches: a known item a lexical match cannot find)
NOUN_SYNONYMS: dict[str, str] = {
    "chef knife": "kitchen knife", "cutting board": "chopping board", "frying pan": "skillet",
    "saucepan": "cooking pot", "mixing bowl": "baking bowl", "kettle": "water boiler",
    "colander": "strainer", "baking tray": "sheet pan", "wireless headphones": "earphones",
    "bluetooth speaker": "portable speaker", "smartwatch": "fitness tracker",
    "power bank": "portable charger", "usb-c charger": "phone charger", "webcam": "video camera",
    "computer mouse": "mouse", "t-shirt": "tee", "hoodie": "sweatshirt", "jeans": "denim pants",
    "summer dress": "sundress", "rain jacket": "raincoat", "sweater": "jumper",
    "chinos": "trousers", "parka": "winter coat", "novel": "fiction book",
    "cookbook": "recipe book", "travel guide": "guidebook", "comic": "graphic novel",
    "building blocks": "bricks", "jigsaw puzzle": "puzzle", "plush bear": "teddy bear",
    "toy car": "model car", "doll house": "dollhouse", "yoga mat": "exercise mat",
    "dumbbell set": "weights", "water bottle": "drinking bottle", "football": "soccer ball",
    "cycling helmet": "bike helmet", "jump rope": "skipping rope", "face cream": "moisturizer",
    "perfume": "fragrance", "hair dryer": "blow dryer", "body lotion": "moisturising lotion",
    "garden hose": "hosepipe", "plant pot": "flower pot", "pruning shears": "secateurs",
    "lawn chair": "garden chair", "solar lamp": "garden light", "table lamp": "desk light",
    "throw pillow": "cushion", "rug": "carpet", "storage basket": "bin",
    "office chair": "desk chair", "bookshelf": "bookcase", "sofa": "couch",
    "wardrobe": "closet", "side table": "end table", "necklace": "chain",
    "earrings": "studs", "wristwatch": "watch", "dog bed": "pet bed", "cat tree": "cat tower",
    "leash": "lead", "litter box": "litter tray", "aquarium": "fish tank",
    "coffee beans": "espresso", "olive oil": "cooking oil", "dark chocolate": "cocoa bar",
    "stroller": "pram", "crib": "cot", "pacifier": "dummy", "diaper bag": "nappy bag",
    "fountain pen": "ink pen", "planner": "diary", "backpack": "rucksack",
    "whiteboard": "dry erase board", "tent": "shelter", "headlamp": "head torch",
    "trekking poles": "hiking poles", "cooler box": "cool box",
}
