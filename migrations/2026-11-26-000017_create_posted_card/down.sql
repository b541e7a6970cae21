DROP TABLE posted_card;
